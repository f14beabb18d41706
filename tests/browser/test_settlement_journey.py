"""A settlement's journey through every role, once in zh-Hans and once in English.

The Wuhan AI Computing Center's operator submits the demo's draft settlement
of Jianghan's compute vouchers with its invoice (a wrong amount first, then
the amount due); Jianghan's reviewer takes it up in the admin, rejects a
charge with its reason and passes it on; Jianghan's finance officer approves
it and records a payment of part of it, then of the rest; the operator sees
the rejected line with its reason and the payments, and downloads the
statement PDF.

The pages are shot at 1366 px wide, the narrowest width the operator and
admin pages are laid out for.
"""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from tests.browser.conftest import OFFICIAL_1, TOTP_SECRET, Journey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGS = ["zh-hans", "en"]
VIEWPORT = {"width": 1366, "height": 900}
PLATFORM = "wuhan-aicc"
OPERATOR = f"operator@{PLATFORM}.example.com"
FINANCE = "finance@jianghan.example.gov.cn"
PAYER_ACCOUNT = "江汉区财政局国库集中支付 4201-0300-0001"
REASON = "平台作业日志中查无此作业 / No such job in the platform's job logs"
PDFTOPPM = shutil.which("pdftoppm")


def in_lang(lang: str, text: Any) -> str:
    with translation.override(lang):
        return gettext(text) if isinstance(text, str) else str(text)


def wide_page(journey: Journey) -> Any:
    page = journey.new_page()
    page.set_viewport_size(VIEWPORT)
    return page


def draft_settlement() -> Any:
    """The demo's draft: the Wuhan AI Computing Center's charges to Jianghan's
    compute vouchers three months back, with two charges."""
    from settlements.models import Settlement

    draft = (
        Settlement.objects.filter(
            platform__slug=PLATFORM,
            program__name_en__startswith="Jianghan Compute",
            status=Settlement.Status.DRAFT,
        )
        .order_by("starts_at")
        .first()
    )
    assert draft is not None, "the demo seed has no draft settlement of Jianghan's compute"
    assert draft.lines.filter(kind="capture").count() >= 2, "the journey rejects one of two"
    assert draft.program.settlement_four_eyes_threshold is None or (
        draft.amount_due <= draft.program.settlement_four_eyes_threshold
    ), "the journey expects a single finance approval"
    return draft


def with_totp(email: str) -> None:
    """The demo's finance officers and platform operators set up TOTP at their
    first sign-in (operators before their operator pages): give this one the
    journey's secret, as the fixture does for the officials."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    from accounts.models import User

    user = User.objects.get(email=email)
    Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
    TOTP.activate(user, TOTP_SECRET)


def click_and_wait(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).first.click()


def assert_on(page: Any, path: str) -> None:
    """The page shows ``path`` (with any fragment the form's address had)."""
    assert urlsplit(page.url).path == path, page.url


def step_button(settlement_pk: int, step: str) -> str:
    """The button of a step on the admin page of the settlement."""
    return f"form[action$='/settlement/{settlement_pk}/{step}/'] input[type=submit]"


def shoot_pdf(journey: Journey, pdf: bytes, name: str) -> None:
    """Keep the PDF beside the screenshots and, with poppler, its pages as
    PNG (``NN-name-1.png``, ``NN-name-2.png``, …) to be looked at too."""
    journey.step += 1
    path = journey.folder / f"{journey.step:02d}-{name}.pdf"
    path.write_bytes(pdf)
    if PDFTOPPM is None:
        print("pdftoppm not found: the PDF is kept but not rendered")
        return
    subprocess.run(  # noqa: S603 (a fixed local tool on a file we wrote)
        [PDFTOPPM, "-png", "-r", "80", str(path), str(path.with_suffix(""))],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize("lang", LANGS)
def test_settlement_journey(journey: Journey, lang: str) -> None:
    from playwright.sync_api import expect

    from audit.models import AuditEvent
    from audit.object_types import object_type_of
    from settlements.models import Settlement, SettlementLine
    from vouchers.ledger import ledger_differences

    Status = Settlement.Status
    settlement = draft_settlement()
    pk = settlement.pk
    due = settlement.amount_due
    with_totp(FINANCE)
    with_totp(OPERATOR)
    detail_path = f"/operator/{PLATFORM}/settlements/{pk}/"
    change_path = f"/admin/settlements/settlement/{pk}/change/"
    status_field = ".field-status .readonly"

    # 1. The operator signs in and finds the draft from the platform's page.
    operator = wide_page(journey)
    journey.login(operator, OPERATOR, code=True)
    operator.wait_for_url("**/portal/")
    expect(operator.locator("html")).to_have_attribute("lang", lang)
    journey.shot(operator, "operator-portal")
    click_and_wait(operator, f"main a[href$='/operator/{PLATFORM}/']")
    journey.shot(operator, "operator-platform")
    click_and_wait(operator, f"main a[href$='/operator/{PLATFORM}/settlements/']")
    expect(operator.locator(f"a[href$='{detail_path}']").first).to_be_visible()
    journey.shot(operator, "operator-settlements")
    click_and_wait(operator, f"a[href$='{detail_path}']")
    expect(operator.locator(".page-head .status")).to_have_text(in_lang(lang, Status.DRAFT.label))
    expect(operator.locator("#submit form")).to_be_visible()
    journey.shot(operator, "operator-draft")

    # ... submits it with an invoice for the wrong amount and reads why not ...
    operator.fill("input[name=invoice_number]", f"WHAICC-{settlement.period}-JOURNEY")
    operator.fill("input[name=invoice_amount]", str(due - Decimal("100.00")))
    operator.fill("textarea[name=note]", "本期结算单及增值税发票 / This period's statement")
    click_and_wait(operator, "#submit button[type=submit]")
    error = operator.locator(
        "#submit .field.has-error:has(input[name=invoice_amount]) .field-error"
    )
    expect(error).to_be_visible()
    expect(error).to_contain_text(f"{due:,.2f}")
    settlement.refresh_from_db()
    assert settlement.status == Status.DRAFT
    journey.shot(operator, "operator-wrong-amount")

    # ... and then for the amount due.
    operator.fill("input[name=invoice_amount]", str(due))
    click_and_wait(operator, "#submit button[type=submit]")
    assert_on(operator, detail_path)
    settlement.refresh_from_db()
    assert settlement.status == Status.SUBMITTED
    assert settlement.invoice_amount == due
    assert settlement.submitted_by
    expect(operator.locator(".page-head .status")).to_have_text(
        in_lang(lang, Status.SUBMITTED.label)
    )
    expect(operator.locator("#submit")).to_have_count(0)
    journey.shot(operator, "operator-submitted")

    # 2. Jianghan's reviewer finds it in the admin, from "Waiting for you" if it is there.
    reviewer = wide_page(journey)
    journey.login(reviewer, OFFICIAL_1, code=True)
    reviewer.wait_for_url("**/admin/")
    expect(reviewer.locator("html")).to_have_attribute("lang", lang)
    journey.shot(reviewer, "reviewer-admin-index")
    waiting = reviewer.locator(
        "#work-queue-module a[href$='waiting=settlements.settlements_submitted']"
    )
    if waiting.count():
        click_and_wait(
            reviewer, "#work-queue-module a[href$='waiting=settlements.settlements_submitted']"
        )
    else:
        print("no 'Waiting for you' box: the reviewer opens the list")
        reviewer.goto(journey.url("/admin/settlements/settlement/?status__exact=submitted"))
    journey.shot(reviewer, "reviewer-settlements")
    click_and_wait(reviewer, f"#result_list a[href*='{change_path}']")
    expect(reviewer.locator(status_field)).to_have_text(in_lang(lang, Status.SUBMITTED.label))
    journey.shot(reviewer, "reviewer-submitted")

    # ... starts the review ...
    click_and_wait(reviewer, step_button(pk, "start-review"))
    settlement.refresh_from_db()
    assert settlement.status == Status.UNDER_REVIEW
    assert settlement.review_started_by is not None
    assert settlement.review_started_by.email == OFFICIAL_1
    expect(reviewer.locator(".messagelist .success")).to_be_visible()
    expect(reviewer.locator(status_field)).to_have_text(in_lang(lang, Status.UNDER_REVIEW.label))
    journey.shot(reviewer, "reviewer-under-review")

    # ... rejects the second charge with its reason ...
    line = settlement.lines.filter(kind="capture").order_by("recorded_at", "pk")[1]
    voucher = line.voucher
    balance_before = voucher.balance
    click_and_wait(reviewer, f"#lines a[href*='/reject-line/?line={line.pk}']")
    expect(reviewer.locator("textarea[name=reason]")).to_be_visible()
    journey.shot(reviewer, "reviewer-reject-form")
    reviewer.fill("textarea[name=reason]", REASON)
    click_and_wait(reviewer, "#content-main form .submit-row input[type=submit]")
    assert_on(reviewer, change_path)
    line.refresh_from_db()
    assert line.status == SettlementLine.Status.REJECTED
    assert line.rejection_reason == REASON
    assert line.rejection_reversal is not None
    assert line.rejection_reversal.amount == line.covered
    voucher.refresh_from_db()
    assert voucher.balance == balance_before + line.covered
    settlement.refresh_from_db()
    assert settlement.rejected == line.covered
    assert settlement.amount_due == due - line.covered
    assert ledger_differences() == []
    expect(reviewer.locator(".messagelist .success")).to_contain_text(line.reference)
    expect(reviewer.locator("#lines").get_by_text(REASON)).to_be_visible()
    journey.shot(reviewer, "reviewer-line-rejected")

    # ... and passes it on to finance, which the reviewer may not then approve.
    click_and_wait(reviewer, step_button(pk, "pass-on"))
    settlement.refresh_from_db()
    assert settlement.status == Status.UNDER_REVIEW
    assert settlement.reviewed_by is not None
    assert settlement.reviewed_by.email == OFFICIAL_1
    expect(reviewer.locator(step_button(pk, "approve"))).to_have_count(0)
    expect(reviewer.locator("#lines a[href*='/reject-line/']")).to_have_count(0)
    journey.shot(reviewer, "reviewer-passed-on")

    # 3. Jianghan's finance officer approves it ...
    finance = wide_page(journey)
    journey.login(finance, FINANCE, code=True)
    finance.wait_for_url("**/admin/")
    journey.shot(finance, "finance-admin-index")
    waiting = finance.locator(
        "#work-queue-module a[href$='waiting=settlements.settlements_to_approve']"
    )
    if waiting.count():
        click_and_wait(
            finance, "#work-queue-module a[href$='waiting=settlements.settlements_to_approve']"
        )
    else:
        print("no 'Waiting for you' box: the finance officer opens the list")
        finance.goto(journey.url("/admin/settlements/settlement/?status__exact=under_review"))
    journey.shot(finance, "finance-settlements")
    click_and_wait(finance, f"#result_list a[href*='{change_path}']")
    expect(finance.locator(step_button(pk, "approve"))).to_be_visible()
    journey.shot(finance, "finance-passed-on")
    click_and_wait(finance, step_button(pk, "approve"))
    settlement.refresh_from_db()
    approved = settlement.amount_due
    assert settlement.status == Status.APPROVED
    assert settlement.approved_amount == approved
    assert settlement.approved_by is not None
    assert settlement.approved_by.email == FINANCE
    expect(finance.locator(status_field)).to_have_text(in_lang(lang, Status.APPROVED.label))
    journey.shot(finance, "finance-approved")

    # ... records a payment of part of it ...
    today = timezone.localdate().isoformat()
    part = (approved / 2).quantize(Decimal("1"))
    click_and_wait(finance, step_button(pk, "record-payment"))
    expect(finance.locator("input[name=amount]")).to_be_visible()
    finance.fill("input[name=amount]", str(part))
    finance.fill("input[name=paid_on]", today)
    finance.fill("input[name=payer_account]", PAYER_ACCOUNT)
    finance.fill("input[name=bank_reference]", f"JOURNEY-{lang}-01")
    journey.shot(finance, "finance-payment-form")
    click_and_wait(finance, "#content-main form .submit-row input[type=submit]")
    assert_on(finance, change_path)
    settlement.refresh_from_db()
    assert settlement.status == Status.APPROVED
    assert settlement.paid_amount == part
    expect(finance.locator(".messagelist .success")).to_be_visible()
    journey.shot(finance, "finance-partly-paid")

    # ... then of the rest, and sees it paid.
    click_and_wait(finance, step_button(pk, "record-payment"))
    expect(finance.locator("input[name=amount]")).to_have_value(str(approved - part))
    finance.fill("input[name=paid_on]", today)
    finance.fill("input[name=payer_account]", PAYER_ACCOUNT)
    finance.fill("input[name=bank_reference]", f"JOURNEY-{lang}-02")
    journey.shot(finance, "finance-payment-rest")
    click_and_wait(finance, "#content-main form .submit-row input[type=submit]")
    assert_on(finance, change_path)
    settlement.refresh_from_db()
    assert settlement.status == Status.PAID
    assert settlement.paid_amount == approved
    assert settlement.payments.count() == 2
    expect(finance.locator(status_field)).to_have_text(in_lang(lang, Status.PAID.label))
    expect(finance.locator("#payments tbody tr")).to_have_count(2)
    journey.shot(finance, "finance-paid")

    events = AuditEvent.objects.filter(
        object_type=object_type_of(Settlement), object_id=str(pk)
    ).order_by("id")
    assert [e.event_type for e in events if e.event_type != "settlement.drawn"] == [
        "settlement.submitted",
        "settlement.review_started",
        "settlement.line_rejected",
        "settlement.passed_to_finance",
        "settlement.approved",
        "settlement.payment_recorded",
        "settlement.payment_recorded",
        "settlement.paid",
    ]
    assert ledger_differences() == []

    # 4. The operator sees the rejected line with its reason, and the payments ...
    operator.goto(journey.url(detail_path))
    expect(operator.locator(".page-head .status")).to_have_text(in_lang(lang, Status.PAID.label))
    expect(operator.locator("#lines tr.rejected.reason")).to_contain_text(REASON)
    expect(operator.locator("#payments tbody tr")).to_have_count(2)
    expect(operator.locator("#payments")).to_contain_text(f"JOURNEY-{lang}-01")
    expect(operator.locator("#payments")).to_contain_text(f"JOURNEY-{lang}-02")
    journey.shot(operator, "operator-paid")

    # ... and downloads the statement in the page's language.
    statement = operator.locator(f"a[href$='/settlements/{pk}/statement.pdf?lang={lang}']")
    with operator.expect_download() as caught:
        statement.click()
    download = caught.value
    assert download.suggested_filename.endswith(f"-{lang}.pdf"), download.suggested_filename
    path = download.path()
    assert path is not None
    content = path.read_bytes()
    assert content.startswith(b"%PDF")
    shoot_pdf(journey, content, "operator-statement")
