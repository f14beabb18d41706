"""The enterprise's journey in a real browser, once in zh-Hans and once in English.

A new user signs up, confirms the e-mail from the outbox, registers the
company, checks eligibility, applies with a PDF and submits, then follows the
status; a demo enterprise with an active voucher opens it and downloads the
certificate.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.utils import translation

from demo.seed import ENTERPRISES
from tests.accounts.factories import make_uscc
from tests.browser.conftest import MINIMAL_PDF, PASSWORD, Journey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGS = ["zh-hans", "en"]
CONFIRM_LINK = re.compile(r"https?://\S+/accounts/confirm-email/\S+/")
HANJIANG_LOGIN = "admin@hanjiang-ai.example.com"
HANJIANG_USCC = next(e["uscc"] for e in ENTERPRISES if e["key"] == "hanjiang")


def label(lang: str, choice: Any) -> str:
    with translation.override(lang):
        return str(choice.label)


def confirmation_link(email: str) -> str:
    for message in reversed(mail.outbox):
        if email in message.to:
            match = CONFIRM_LINK.search(message.body)
            if match:
                return match.group(0)
    raise AssertionError(f"no confirmation e-mail to {email} in {len(mail.outbox)} messages")


@pytest.mark.parametrize("lang", LANGS)
def test_enterprise_journey(journey: Journey, lang: str) -> None:
    from playwright.sync_api import expect

    from accounts.models import Enterprise, User
    from applications.models import Application
    from programs.models import Program

    program = Program.objects.get(name_en__startswith="Jianghan Compute")
    email = f"founder-{lang}@example.com"
    page = journey.new_page()

    # 1. Sign up.
    page.goto(journey.url("/accounts/signup/"))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    journey.shot(page, "signup")
    with page.expect_navigation():
        page.press("input[name=password2]", "Enter")
    assert User.objects.filter(email=email).exists()
    journey.shot(page, "verification-sent")

    # 2. Confirm the e-mail address from the link in the outbox.
    page.goto(confirmation_link(email))
    journey.shot(page, "confirm-email")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/enterprise/register/")
    assert User.objects.get(email=email).emailaddress_set.get(email=email).verified

    # 3. Register the enterprise (Jianghan district, 25 staff).
    uscc = make_uscc("420103")
    page.fill("input[name=name]", f"江汉浏览器测试科技有限公司 {lang}")
    page.fill("input[name=uscc]", uscc)
    page.fill("input[name=legal_representative]", "张测试")
    page.fill("input[name=contact_name]", "张测试")
    page.fill("input[name=contact_phone]", "027-8000-1234")
    page.fill("input[name=contact_email]", email)
    page.fill("input[name=address]", "武汉市江汉区建设大道1号")
    page.fill("input[name=headcount]", "25")
    page.fill("input[name=prior_year_revenue]", "3200000")
    page.fill("input[name=local_tax_paid]", "120000")
    page.select_option("select[name=industry]", "I")
    page.fill("input[name=founded_on]", "2022-03-01")
    journey.shot(page, "register-enterprise")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    enterprise = Enterprise.objects.get(uscc=uscc)
    assert enterprise.memberships.filter(user__email=email).exists()
    journey.shot(page, "registered")

    # 4. Eligibility on the programs page: Jianghan's compute vouchers are open to it.
    page.goto(journey.url("/programs/"))
    card = page.locator(f"#program-{program.pk}")
    expect(card.locator(".decision-pass")).to_be_visible()
    apply = card.locator(f"a[href$='/programs/{program.pk}/apply/']")
    expect(apply).to_be_visible()
    journey.shot(page, "eligibility")

    # 4b. The program's own page: what it funds, my result, rates, how to apply.
    with page.expect_navigation():
        card.locator(f"h2 a[href$='/programs/{program.pk}/']").click()
    with translation.override(lang):
        expect(page.locator("main h1")).to_contain_text(program.display_name)
    apply = page.locator(f"main a[href$='/programs/{program.pk}/apply/']").first
    expect(apply).to_be_visible()
    journey.shot(page, "program-detail")

    # 5. Apply with a PDF and save the draft.
    with page.expect_navigation():
        apply.click()
    page.fill("input[name=requested_amount]", "200000")
    page.fill("textarea[name=purpose]", "训练政务热线方言语音模型 / A dialect speech model.")
    page.set_input_files(
        "input[name=document]",
        files=[
            {"name": "business-licence.pdf", "mimeType": "application/pdf", "buffer": MINIMAL_PDF}
        ],
    )
    with page.expect_navigation():
        page.click("button[name=intent][value=save]")
    application = Application.objects.get(enterprise=enterprise, program=program)
    assert application.status == Application.Status.DRAFT
    assert application.documents.count() == 1
    expect(page.get_by_text("business-licence.pdf").first).to_be_visible()
    journey.shot(page, "draft-with-document")

    # 6. Submit (accepting the program's obligations).
    if page.locator("input[name=accept_obligations]").count():
        page.check("input[name=accept_obligations]")
    with page.expect_navigation():
        page.click("button[name=intent][value=submit]")
    page.wait_for_url(f"**/applications/{application.pk}/")
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    submitted = label(lang, Application.Status.SUBMITTED)
    expect(page.locator(".status.big")).to_have_text(submitted)
    journey.shot(page, "submitted")

    # 7. Follow the status from the list of applications.
    page.goto(journey.url("/applications/"))
    expect(page.locator(f"a[href$='/applications/{application.pk}/']").first).to_be_visible()
    expect(page.locator("main").get_by_text(submitted).first).to_be_visible()
    journey.shot(page, "my-applications")

    # 7b. The submission is in the notification centre; the company's details
    # name the district, not its code.
    page.goto(journey.url("/notifications/"))
    expect(page.locator("main")).to_contain_text(f"#{application.pk}")
    journey.shot(page, "notifications")
    page.goto(journey.url(f"/enterprise/{enterprise.pk}/"))
    # The code may stand inside the USCC, never on its own.
    expect(page.locator("main")).not_to_contain_text(re.compile(r"(?<![0-9A-Z])420103(?![0-9A-Z])"))
    journey.shot(page, "company")

    # 8. A demo enterprise with an active voucher downloads its certificate.
    demo_enterprise_downloads_its_certificate(journey, lang)


def demo_enterprise_downloads_its_certificate(journey: Journey, lang: str) -> None:
    from playwright.sync_api import expect

    from vouchers.models import Voucher

    voucher = (
        Voucher.objects.filter(
            enterprise__uscc=HANJIANG_USCC,
            program__name_en__startswith="Jianghan Compute",
            status=Voucher.Status.ACTIVE,
        )
        .order_by("pk")
        .first()
    )
    assert voucher is not None, "the demo seed has no active Jianghan compute voucher"
    page = journey.new_page()
    journey.login(page, HANJIANG_LOGIN)
    page.wait_for_url("**/portal/")
    journey.shot(page, "portal")

    page.goto(journey.url("/vouchers/"))
    link = page.locator(f"a[href$='/vouchers/{voucher.pk}/']").first
    expect(link).to_be_visible()
    journey.shot(page, "vouchers")
    with page.expect_navigation():
        link.click()
    expect(page.get_by_text(voucher.code).first).to_be_visible()
    expect(page.locator(".status").first).to_have_text(label(lang, Voucher.Status.ACTIVE))
    journey.shot(page, "voucher")

    certificate = page.locator(f"a[href*='/vouchers/{voucher.pk}/certificate.pdf']").first
    expect(certificate).to_be_visible()
    href = certificate.get_attribute("href")
    assert href
    response = page.context.request.get(journey.url(href))
    assert response.status == 200, response.status
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.body().startswith(b"%PDF")

    # An enterprise user who opens the admin gets the site's own 403 page, in
    # the site's language.
    response = page.goto(journey.url("/admin/"))
    assert response is not None and response.status == 403, response and response.status
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("header")).to_be_visible()
    journey.shot(page, "admin-forbidden")
