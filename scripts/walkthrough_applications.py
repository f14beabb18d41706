"""Walk the application journey in headless Chromium, as a new user would.

Register, confirm the e-mail (link read from the server's console e-mail),
register the enterprise, check eligibility, apply with a document (a renamed
executable first, which is refused), submit, be returned by a reviewer,
resubmit, and be approved by two officials (four-eyes) — once in zh-Hans and
once in English. Screenshots go to the directory given (not the repository).

Usage (a seeded database and a server on 127.0.0.1:PORT whose stdout goes to
SERVER_LOG)::

    python scripts/walkthrough_applications.py --base http://127.0.0.1:8300 \
        --log /tmp/server.log --out /work/artifacts/issue3

Needs playwright (pip) and the system Chromium; no browser is downloaded.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import re
import struct
import sys
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

PASSWORD = "Voucher-Demo-2026"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
OFFICIAL_1 = "official@jianghan.example.gov.cn"
OFFICIAL_2 = "reviewer2@jianghan.example.gov.cn"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 300


def totp(secret: str, at: float | None = None) -> str:
    counter = int((at or time.time()) // 30)
    digest = hmac.new(
        base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1
    ).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def prepare_officials() -> None:
    """Give the two Jianghan reviewers a TOTP authenticator with a known secret."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    from accounts.models import User

    for email in (OFFICIAL_1, OFFICIAL_2):
        user = User.objects.get(email=email)
        Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
        TOTP.activate(user, TOTP_SECRET)


PROGRAM_ID: dict[str, int] = {}


def jianghan_compute_id() -> int:
    """Read before the browser starts (the ORM is not used inside playwright's loop)."""
    if "compute" not in PROGRAM_ID:
        from programs.models import Program

        PROGRAM_ID["compute"] = Program.objects.get(name_en__startswith="Jianghan Compute").pk
    return PROGRAM_ID["compute"]


def uscc(division: str, serial: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    first17 = f"91{division}MA{serial}"
    total = sum(alphabet.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return first17 + alphabet[(-total) % 31]


class Walk:
    def __init__(self, browser: Browser, base: str, log: Path, out: Path, lang: str) -> None:
        self.browser, self.base, self.log, self.out, self.lang = browser, base, log, out, lang
        self.shots: list[str] = []

    def context(self, *, mobile: bool = False) -> Page:
        context = self.browser.new_context(
            viewport={"width": 390, "height": 844} if mobile else {"width": 1280, "height": 900},
            locale="zh-CN" if self.lang == "zh-hans" else "en-US",
        )
        host = self.base.split("//", 1)[1].split(":")[0]
        context.add_cookies(
            [{"name": "django_language", "value": self.lang, "domain": host, "path": "/"}]
        )
        return context.new_page()

    def shot(self, page: Page, name: str, *, full_page: bool = True) -> None:
        path = self.out / f"{self.lang}-{len(self.shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.shots.append(path.name)
        print("  screenshot", path.name, "←", page.url)

    def confirmation_link(self, email: str) -> str:
        for _ in range(50):
            text = self.log.read_text(errors="replace")
            block = text[text.rfind(f"To: {email}") :] if f"To: {email}" in text else ""
            match = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", block)
            if match:
                return match.group(0)
            time.sleep(0.2)
        raise RuntimeError(f"no confirmation e-mail for {email}")

    def official_login(self, email: str) -> Page:
        page = self.context()
        page.goto(f"{self.base}/accounts/login/")
        page.fill("input[name=login]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        if "2fa" in page.url or page.locator("input[name=code]").count():
            page.fill("input[name=code]", totp(TOTP_SECRET))
            page.click("main form button[type=submit]")
            page.wait_for_load_state()
        return page

    def run(self, suffix: str, serial: str) -> None:
        email = f"founder-{suffix}@example.com"
        page = self.context()
        # 1. Register.
        page.goto(f"{self.base}/accounts/signup/")
        page.fill("input[name=email]", email)
        page.fill("input[name=password1]", PASSWORD)
        page.fill("input[name=password2]", PASSWORD)
        self.shot(page, "signup")
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        page.goto(self.confirmation_link(email))
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        # 2. Register the enterprise (a Jianghan USCC, 25 staff).
        if "/enterprise/register/" not in page.url:
            page.goto(f"{self.base}/enterprise/register/")
        code = uscc("420103", serial)
        page.fill("input[name=name]", f"江汉演示智能科技有限公司 {suffix}")
        page.fill("input[name=uscc]", code)
        page.fill("input[name=legal_representative]", f"张演示{suffix}")
        page.fill("input[name=contact_name]", "张演示")
        page.fill("input[name=contact_phone]", f"027-8000-{serial[-4:]}")
        page.fill("input[name=contact_email]", email)
        page.fill("input[name=headcount]", "25")
        page.fill("input[name=prior_year_revenue]", "3200000")
        page.fill("input[name=local_tax_paid]", "120000")
        page.select_option("select[name=industry]", "I")
        page.fill("input[name=founded_on]", "2022-03-01")
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        # 3. Check eligibility.
        page.goto(f"{self.base}/programs/")
        self.shot(page, "eligibility")
        phone = self.context(mobile=True)
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{self.base}/programs/")
        phone.locator(f"#program-{jianghan_compute_id()}").scroll_into_view_if_needed()
        self.shot(phone, "eligibility-phone", full_page=False)
        # 4. Apply to Jianghan's compute vouchers with a document.
        page.locator(f"#program-{jianghan_compute_id()} a.button").click()
        page.wait_for_load_state()
        page.fill("input[name=requested_amount]", "300000")
        page.fill(
            "textarea[name=purpose]",
            "训练面向政务热线的方言语音模型 / Train a dialect speech model for the city hotline.",
        )
        page.set_input_files(
            "input[name=document]",
            files=[{"name": "business-licence.pdf", "mimeType": "application/pdf", "buffer": EXE}],
        )
        page.click("button[name=intent][value=save]")
        page.wait_for_load_state()
        self.shot(page, "renamed-exe-refused")
        page.set_input_files(
            "input[name=document]",
            files=[{"name": "business-licence.pdf", "mimeType": "application/pdf", "buffer": PDF}],
        )
        page.click("button[name=intent][value=save]")
        page.wait_for_load_state()
        self.shot(page, "draft-with-document")
        if page.locator("input[name=accept_obligations]").count():
            page.check("input[name=accept_obligations]")
        page.click("button[name=intent][value=submit]")
        page.wait_for_load_state()
        self.shot(page, "submitted")
        application_url = page.url
        number = application_url.rstrip("/").split("/")[-1]
        # 5. The first official takes it up and returns it.
        official = self.official_login(OFFICIAL_1)
        review = f"{self.base}/admin/applications/application/{number}/change/"
        official.goto(review)
        official.check("input[name=action][value=start_review]")
        official.click("input[type=submit]")
        official.wait_for_load_state()
        self.shot(official, "reviewer-under-review")
        official.check("input[name=action][value=return_for_changes]")
        official.click("input[type=submit]")
        official.wait_for_load_state()
        self.shot(official, "reviewer-note-required")
        official.check("input[name=action][value=return_for_changes]")
        official.fill(
            "textarea[name=note]",
            "请补充算力采购合同。Please attach the compute purchase contract.",
        )
        official.click("input[type=submit]")
        official.wait_for_load_state()
        # 6. The enterprise sees the return and resubmits.
        page.goto(application_url)
        self.shot(page, "returned")
        page.goto(f"{self.base}/applications/{number}/edit/")
        page.set_input_files(
            "input[name=document]",
            files=[{"name": "compute-contract.pdf", "mimeType": "application/pdf", "buffer": PDF}],
        )
        page.click("button[name=intent][value=save]")
        page.wait_for_load_state()
        if page.locator("input[name=accept_obligations]").count():
            page.check("input[name=accept_obligations]")
        page.click("button[name=intent][value=submit]")
        page.wait_for_load_state()
        # 7. Approved by two officials (300,000 is above the 250,000 four-eyes threshold).
        official.goto(review)
        official.check("input[name=action][value=start_review]")
        official.click("input[type=submit]")
        official.wait_for_load_state()
        official.check("input[name=action][value=approve_first]")
        official.click("input[type=submit]")
        official.wait_for_load_state()
        self.shot(official, "first-approval")
        second = self.official_login(OFFICIAL_2)
        second.goto(review)
        second.check("input[name=action][value=approve_second]")
        second.click("input[type=submit]")
        second.wait_for_load_state()
        self.shot(second, "second-approval")
        page.goto(application_url)
        self.shot(page, "approved")
        # The program's budget after the reservation, as the manager sees it.
        official.goto(f"{self.base}/admin/programs/program/?q=算力券")
        official.locator("#result_list a").filter(has_text="江汉").first.click()
        official.wait_for_load_state()
        self.shot(official, "program-budget")
        ruleset = f"{self.base}/admin/eligibility/ruleset/"
        official.goto(ruleset)
        official.locator("#result_list a").filter(has_text="江汉").first.click()
        official.wait_for_load_state()
        self.shot(official, "rule-editor")
        official.click("a[href$='/preview/']")
        official.wait_for_load_state()
        self.shot(official, "preview")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8300")
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    prepare_officials()
    jianghan_compute_id()
    stamp = str(int(time.time()))[-5:]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        for lang, serial in (("zh-hans", f"CN{stamp}"), ("en", f"EN{stamp}")):
            print(f"walking in {lang}")
            Walk(browser, args.base, args.log, args.out, lang).run(f"{lang}-{stamp}", serial)
            time.sleep(31)  # a fresh TOTP code for the next sign-ins
        browser.close()


if __name__ == "__main__":
    main()
