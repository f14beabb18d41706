"""Browser journeys: headless Debian Chromium (Playwright) against ``live_server``.

Playwright's sync API runs an event loop in the test thread, so Django refuses
ORM calls there unless ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set; the fixtures here
set it before Chromium starts, and put it back (and stop Chromium) once this
folder's tests are done, so the rest of the suite runs as before.

Screenshots of every step go to ``artifacts/browser/<journey>-<lang>/`` under
the project root (or ``$BROWSER_ARTIFACTS``); the folder is printed in the
terminal summary. A failing test leaves ``failure.png`` there too.

Every page a journey photographs is also checked with axe-core against the
WCAG 2.1 A and AA rules (``AXE_TAGS``); the violations of all its pages go to
``a11y.json`` beside the screenshots, and a journey with any fails at its end,
listing each rule, page and element.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import shutil
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Voucher-Demo-2026"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
OFFICIAL_1 = "official@jianghan.example.gov.cn"
OFFICIAL_2 = "reviewer2@jianghan.example.gov.cn"
# Accept-Language for each language the journeys run in.
ACCEPT_LANGUAGE = {"zh-hans": "zh-Hans,zh-CN;q=0.9,zh;q=0.8", "en": "en-US,en;q=0.9"}
LOCALE = {"zh-hans": "zh-CN", "en": "en-US"}
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

_ARTIFACT_DIRS: list[Path] = []
# axe-core's rule tags for WCAG 2.0 and 2.1, levels A and AA.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def artifacts_root() -> Path:
    configured = os.environ.get("BROWSER_ARTIFACTS")
    return Path(configured) if configured else PROJECT_ROOT / "artifacts" / "browser"


def totp(secret: str = TOTP_SECRET, at: float | None = None) -> str:
    """The RFC 6238 code (SHA-1, 30 s, 6 digits) for ``secret`` at ``at``."""
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(
        base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1
    ).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


# --- Chromium ---------------------------------------------------------------


@pytest.fixture(scope="package")
def _allow_orm_beside_playwright() -> Iterator[None]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def chromium(_allow_orm_beside_playwright: None) -> Iterator[Any]:
    """One headless Debian Chromium for this folder's tests (skips when unavailable)."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (pip install playwright)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# --- The seeded live server -------------------------------------------------


@pytest.fixture
def demo(live_server: Any, settings: Any) -> Any:
    """The demo data behind the live server, officials with a known TOTP secret."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP
    from django.core import mail
    from django.core.cache import cache
    from django.core.management import call_command

    from accounts.models import User

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The seed sets a password for every demo user; the production hasher
    # would make each run take seconds. What is tested does not depend on it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # One step either side, so a code computed at the end of a 30 s window
    # is still accepted when the server checks it a moment later.
    settings.MFA_TOTP_TOLERANCE = 1
    cache.clear()  # rate limits and used TOTP codes of earlier tests
    call_command("seed_demo", stdout=io.StringIO())
    for email in (OFFICIAL_1, OFFICIAL_2):
        user = User.objects.get(email=email)
        Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
        TOTP.activate(user, TOTP_SECRET)
    mail.outbox.clear()
    return live_server


# --- Journeys: pages, screenshots, failure shots ----------------------------


class Journey:
    """A user journey in one language: its browser contexts and its screenshots."""

    def __init__(self, browser: Any, base_url: str, lang: str, folder: Path) -> None:
        self.browser, self.base_url, self.lang, self.folder = browser, base_url, lang, folder
        self.contexts: list[Any] = []
        self.current: Any = None
        self.step = 0
        self.violations: list[dict[str, Any]] = []

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def new_page(self) -> Any:
        """A fresh browser context (its own cookies) that asks for ``lang``."""
        context = self.browser.new_context(
            viewport={"width": 1280, "height": 900},
            locale=LOCALE[self.lang],
            extra_http_headers={"Accept-Language": ACCEPT_LANGUAGE[self.lang]},
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        self.current = context.new_page()
        return self.current

    def shot(self, page: Any, name: str) -> Path:
        self.current = page
        self.step += 1
        path = self.folder / f"{self.step:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.check_accessibility(page, path.stem)
        return path

    def check_accessibility(self, page: Any, name: str) -> None:
        """Run axe-core's WCAG 2.1 A/AA rules on ``page``; keep what it finds."""
        from axe_playwright_python.sync_playwright import Axe

        options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
        results = Axe().run(page, options=options)
        for violation in results.response["violations"]:
            self.violations.append(
                {
                    "page": name,
                    "url": page.url.removeprefix(self.base_url),
                    "rule": violation["id"],
                    "impact": violation["impact"],
                    "help": violation["help"],
                    "elements": [
                        {"target": node["target"], "summary": node["failureSummary"]}
                        for node in violation["nodes"]
                    ],
                }
            )

    def accessibility_report(self) -> str:
        """The violations found, one line per rule, page and element."""
        lines = []
        for found in self.violations:
            for element in found["elements"]:
                lines.append(
                    f"{found['page']} ({found['url']}): {found['rule']} [{found['impact']}]"
                    f" {found['help']}: {element['target']}"
                )
        return "\n".join(lines)

    def login(self, page: Any, email: str, *, code: bool = False) -> None:
        """Sign in (Enter in the password field), then the TOTP step if asked."""
        from playwright.sync_api import expect

        self.current = page
        page.goto(self.url("/accounts/login/"))
        page.fill("input[name=login]", email)
        page.fill("input[name=password]", PASSWORD)
        if code:
            page.press("input[name=password]", "Enter")
            page.wait_for_url("**/accounts/2fa/authenticate/**")
            expect(page.locator("input[name=code]")).to_be_visible()
            page.fill("input[name=code]", totp())
            with page.expect_navigation():
                page.press("input[name=code]", "Enter")
        else:
            with page.expect_navigation():
                page.press("input[name=password]", "Enter")
        assert "/accounts/login/" not in page.url, f"sign-in failed for {email}: {page.url}"

    def close(self, failed: bool) -> None:
        if failed and self.current is not None and not self.current.is_closed():
            try:
                self.current.screenshot(path=str(self.folder / "failure.png"), full_page=True)
            except Exception as exc:  # the failure itself matters more than its picture
                print(f"could not save failure.png: {exc}")
        for context in self.contexts:
            context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def journey(request: Any, chromium: Any, demo: Any, lang: str) -> Iterator[Journey]:
    """A journey named after the test module (``test_<journey>_journey.py``)."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    name = name.removeprefix("test_").removesuffix("_journey")
    folder = artifacts_root() / f"{name}-{lang}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _ARTIFACT_DIRS.append(folder)
    print(f"\nscreenshots: {folder}")
    walk = Journey(chromium, demo.url, lang, folder)
    yield walk
    report = getattr(request.node, "report_call", None)
    walk.close(failed=report is None or report.failed)
    (folder / "a11y.json").write_text(
        json.dumps(walk.violations, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    if walk.violations and report is not None and report.passed:
        pytest.fail(
            f"axe-core (WCAG 2.1 AA) found violations on the pages of this journey"
            f" ({folder / 'a11y.json'}):\n{walk.accessibility_report()}",
            pytrace=False,
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _ARTIFACT_DIRS:
        return
    terminalreporter.write_sep("-", f"browser screenshots in {artifacts_root()}")
    for folder in _ARTIFACT_DIRS:
        shots = len(list(folder.glob("*.png")))
        failed = " (with failure.png)" if (folder / "failure.png").exists() else ""
        terminalreporter.write_line(f"{folder}: {shots} screenshots{failed}")
