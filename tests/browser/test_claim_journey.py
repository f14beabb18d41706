"""A reimbursement claim's journey through every role, once in zh-Hans and once in English.

An administrator of an enterprise in Baoding records a compute contract
(pasting the supplier's USCC with spaces), a paid invoice for GPU compute and
one for storage (which does not count), uploads the signed contract, a proof
of payment and a proof of delivery, starts a claim under Baoding's
reimbursement program and reads its arithmetic (30 % of the GPU invoice,
capped), is refused without the declaration, then submits with it and the
bank account. Baoding's reviewer takes it up in the admin from "Waiting for
you" and returns it with a reason; the enterprise reads the reason and
submits again (the account it entered is kept); the reviewer takes it up
again and passes it on to the assessor, who records findings and a
recommended amount on their own page. The amount is above the program's
¥200,000 threshold, so two finance officers approve it; a payment is
recorded; the enterprise sees the claim paid and downloads the payment
notice PDF.

The pages are shot at 1366 px wide, the narrowest width the portal and
admin pages are laid out for, as in ``test_settlement_journey``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from tests.browser.conftest import MINIMAL_PDF, PASSWORD, TOTP_SECRET, Journey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGS = ["zh-hans", "en"]
VIEWPORT = {"width": 1366, "height": 900}
PDFTOPPM = shutil.which("pdftoppm")
#: The claim page's form of the declaration and the bank account.
SUBMIT = "#submit form:has(input[name=declaration])"

CONTRACT_AMOUNT = Decimal("1100000.00")
GPU_AMOUNT = Decimal("1000000.00")
STORAGE_AMOUNT = Decimal("100000.00")
SUPPLIER_NAME = "北京算力供应有限公司"
# What the officials and the assessor write, in the journey's language.
RETURN_REASON = {
    "zh-hans": "银行付款回单不清晰，请重新上传。",
    "en": "The bank's proof of payment is unreadable: upload it again.",
}
CHECK_FINDINGS = {
    "zh-hans": "合同、发票、付款凭证齐全，无重复申报，信用良好。",
    "en": "Contract, invoices and proofs complete; no duplicate claim; credit in order.",
}
ASSESSMENT = {
    "zh-hans": "核查合同、发票、付款与交付凭证一致，GPU 算力已实际交付使用。",
    "en": "Contract, invoices, payment and delivery agree; the GPU compute was delivered and used.",
}
DESCRIPTION = {"zh-hans": "A800 GPU 算力 64 卡 × 12 个月", "en": "64 A800 GPU cards for 12 months"}
PAYEE_BANK = "中国银行保定分行"
PAYEE_ACCOUNT = "6216 6102 0001 6589"
PAYER_ACCOUNT = "保定市财政局国库集中支付 1306-0000-0001"


def in_lang(lang: str, text: Any) -> str:
    with translation.override(lang):
        return gettext(text) if isinstance(text, str) else str(text)


def wide_page(journey: Journey) -> Any:
    page = journey.new_page()
    page.set_viewport_size(VIEWPORT)
    return page


def click_and_wait(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).first.click()


def assert_on(page: Any, path: str) -> None:
    """The page shows ``path`` (with any fragment the form's address had)."""
    assert urlsplit(page.url).path == path, page.url


#: A choice's stored value where a person should read its label: any key
#: with an underscore, and on Chinese pages a one-word key standing alone (a
#: cell, a line, a part of a "·" list: English left in a sentence, which the
#: catalog may not have yet, does not count).
RAW_KEY = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
SEPARATORS = re.compile(r"[\n\t·:：()（）]+")


def raw_words() -> set[str]:
    """The stored values of the choices a claim's pages show."""
    from accounts.models import Membership
    from programs.models import Program
    from settlements.models import Claim, Contract, ContractDocument, ServiceKind

    choices = (
        ServiceKind,
        Claim.Status,
        Claim.Stage,
        Contract.Side,
        ContractDocument.Kind,
        Program.PayoutMode,
        Program.ClaimRounding,
        Program.Kind,
        Membership.Role,
    )
    return {str(value) for choice in choices for value in choice.values}


def shot(journey: Journey, page: Any, name: str) -> None:
    """The screenshot of the page, once it shows no stored key to people."""
    journey.shot(page, name)
    text = page.locator("body").inner_text()
    keys = set(RAW_KEY.findall(text))
    if journey.lang != "en":  # English labels are English words
        keys |= {part.strip() for part in SEPARATORS.split(text)} & raw_words()
    assert not keys, f"{name}: raw keys shown: {sorted(keys)}"


def step_button(claim_pk: int, step: str) -> str:
    """The button of a step in the "Next step" box of the claim's admin page."""
    return f"form[action$='/claim/{claim_pk}/{step}/'] input[type=submit]"


def pdf(name: str) -> dict[str, Any]:
    """A small PDF to upload; each one different (the same file twice is refused)."""
    body = MINIMAL_PDF + f"% {name}\n".encode()
    return {"name": name, "mimeType": "application/pdf", "buffer": body}


def shoot_pdf(journey: Journey, content: bytes, name: str) -> None:
    """Keep the PDF beside the screenshots and, with poppler, its pages as PNG."""
    journey.step += 1
    path = journey.folder / f"{journey.step:02d}-{name}.pdf"
    path.write_bytes(content)
    if PDFTOPPM is None:
        print("pdftoppm not found: the PDF is kept but not rendered")
        return
    subprocess.run(  # noqa: S603 (a fixed local tool on a file we wrote)
        [PDFTOPPM, "-png", "-r", "80", str(path), str(path.with_suffix(""))],
        check=True,
        capture_output=True,
    )


def claim_world(lang: str) -> Any:
    """Baoding's reimbursement program (claim window open around today) beside
    the demo's, an enterprise with its administrator, the reviewer, the
    assessor and two finance officers; all sign in with the journey's
    password, the officials with its TOTP secret."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    from tests.settlements.claim_factories import build

    world = build(
        name="保定市数智券（算力补贴）",
        name_en="Baoding Digital-Intelligence Vouchers (compute subsidy)",
    )
    world.enterprise.name = "保定智算应用科技有限公司"
    world.enterprise.save()
    for user, name in (
        (world.admin, "王芳"),
        (world.reviewer, "保定市工信局 李强"),
        (world.assessor, "第三方评估 陈静"),
        (world.finance, "保定市财政局 刘洋"),
        (world.finance_2, "保定市财政局 孙丽"),
    ):
        user.full_name = name
        user.set_password(PASSWORD)
        user.preferred_language = lang
        user.save()
    for user in (world.reviewer, world.finance, world.finance_2):
        Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
        TOTP.activate(user, TOTP_SECRET)
    return world


def spaced(uscc: str) -> str:
    """The code as it is often pasted from a business licence."""
    return f" {uscc[:2]} {uscc[2:8]} {uscc[8:17]} {uscc[17:]} "


def open_from_queue(
    journey: Journey, page: Any, who: str, status: str, change_path: str, work: str
) -> None:
    """From the admin home's "Waiting for you", if its line ``work`` (a kind
    of work of settlements.queue) lists claims, else from the list of claims
    in ``status``; then the claim's page."""
    queue_link = f"#work-queue-module a[href$='/settlements/claim/?waiting=settlements.{work}']"
    if page.locator(queue_link).count():
        click_and_wait(page, queue_link)
    else:
        print(f"no 'Waiting for you' line for claims {status}: the official opens the list")
        page.goto(journey.url(f"/admin/settlements/claim/?status__exact={status}"))
    shot(journey, page, f"{who}-claims-{status}")
    click_and_wait(page, f"#result_list a[href*='{change_path}']")


@pytest.mark.parametrize("lang", LANGS)
def test_claim_journey(journey: Journey, lang: str) -> None:
    from playwright.sync_api import expect

    from audit.models import AuditEvent
    from audit.object_types import object_type_of
    from common.formatting import amount
    from settlements.models import Claim, Contract, ContractDocument, Invoice, ServiceKind
    from tests.accounts.factories import make_uscc

    Status = Claim.Status
    world = claim_world(lang)
    program = world.program
    supplier_uscc = make_uscc("110108", serial=7_200_000 + LANGS.index(lang))
    contract_number = f"BD-HT-2026-{lang.upper()}-001"
    serial = 20261100 + LANGS.index(lang) * 10
    gpu_number, storage_number = f"1306{serial}001", f"1306{serial}002"
    expected = min(
        (GPU_AMOUNT * program.base_rate).quantize(Decimal("0.01")),
        program.claim_cap,
        program.claim_cap_per_year,
    )
    assert expected > program.settlement_four_eyes_threshold, "the journey needs two approvals"
    status_field = ".field-status .readonly"

    # 1. The enterprise's administrator signs in and opens "Contracts and claims".
    enterprise = wide_page(journey)
    journey.login(enterprise, world.admin.email)
    enterprise.wait_for_url("**/portal/")
    expect(enterprise.locator("html")).to_have_attribute("lang", lang)
    shot(journey, enterprise, "enterprise-portal")
    click_and_wait(enterprise, "main a[href$='/claims/']")
    assert_on(enterprise, "/claims/")
    with translation.override(lang):
        program_name = program.display_name
    expect(enterprise.locator("#programs")).to_contain_text(program_name)
    shot(journey, enterprise, "enterprise-claims")

    # ... records the contract, pasting the supplier's code with spaces ...
    click_and_wait(enterprise, "main a[href$='/claims/contracts/new/']")
    form = enterprise.locator("main form[action$='/claims/contracts/new/']")
    expect(form.locator("input[name=side][value=buyer]")).to_be_checked()
    form.locator("input[name=number]").fill(contract_number)
    form.locator("input[name=counterparty_uscc]").fill(spaced(supplier_uscc))
    form.locator("input[name=counterparty_name]").fill(SUPPLIER_NAME)
    form.locator("input[name=signed_on]").fill("2025-12-20")
    form.locator("input[name=service_starts_on]").fill("2026-01-01")
    form.locator("input[name=service_ends_on]").fill("2026-12-31")
    form.locator("input[name=amount]").fill(str(CONTRACT_AMOUNT))
    form.locator("select[name=service_kind]").select_option(ServiceKind.GPU.value)
    form.locator("textarea[name=description]").fill(DESCRIPTION[lang])
    shot(journey, enterprise, "enterprise-contract-form")
    click_and_wait(enterprise, "main form button[type=submit]")
    contract = Contract.objects.get(enterprise=world.enterprise, number=contract_number)
    assert contract.supplier_uscc == supplier_uscc
    assert contract.amount == CONTRACT_AMOUNT
    contract_path = f"/claims/contracts/{contract.pk}/"
    assert_on(enterprise, contract_path)
    expect(enterprise.locator(".messages .success")).to_be_visible()
    expect(enterprise.locator("dl.facts")).to_contain_text(supplier_uscc)
    shot(journey, enterprise, "enterprise-contract")

    # ... adds the GPU invoice and the storage one, both paid ...
    for number, value, kind in (
        (gpu_number, GPU_AMOUNT, ServiceKind.GPU),
        (storage_number, STORAGE_AMOUNT, ServiceKind.STORAGE),
    ):
        invoice_form = enterprise.locator("#invoices form")
        invoice_form.locator("input[name=invoice-number]").fill(number)
        invoice_form.locator("input[name=invoice-issued_on]").fill("2026-01-05")
        invoice_form.locator("input[name=invoice-amount]").fill(str(value))
        invoice_form.locator("select[name=invoice-service_kind]").select_option(kind.value)
        invoice_form.locator("input[name=invoice-paid_on]").fill("2026-01-10")
        click_and_wait(enterprise, "#invoices form button[type=submit]")
        assert_on(enterprise, contract_path)
        expect(enterprise.locator("#invoices table")).to_contain_text(number)
    assert contract.invoices.count() == 2
    gpu_invoice = Invoice.objects.get(contract=contract, number=gpu_number)
    shot(journey, enterprise, "enterprise-invoices")

    # ... and uploads the signed contract, a proof of payment (of the GPU
    # invoice) and a proof of delivery.
    for document_kind, name, invoice in (
        (ContractDocument.Kind.CONTRACT, "合同扫描件.pdf", None),
        (ContractDocument.Kind.PAYMENT, "银行付款回单.pdf", gpu_invoice),
        (ContractDocument.Kind.DELIVERY, "算力交付验收报告.pdf", None),
    ):
        document_form = enterprise.locator("#documents form")
        document_form.locator("select[name=document-kind]").select_option(document_kind.value)
        if invoice is not None:
            document_form.locator("select[name=document-invoice]").select_option(str(invoice.pk))
        document_form.locator("input[name=document-file]").set_input_files(pdf(name))
        click_and_wait(enterprise, "#documents form button[type=submit]")
        assert_on(enterprise, contract_path)
        expect(enterprise.locator("#documents .doc-list")).to_contain_text(name)
    assert contract.documents.count() == 3
    shot(journey, enterprise, "enterprise-documents")

    # 2. It starts a claim under Baoding's program and reads the arithmetic.
    enterprise.locator("#claims select[name=program]").select_option(str(program.pk))
    click_and_wait(enterprise, "#claims form button[type=submit]")
    claim = Claim.objects.get(contract=contract, program=program)
    pk = claim.pk
    claim_path = f"/claims/{pk}/"
    assert_on(enterprise, claim_path)
    assert claim.status == Status.DRAFT
    assert claim.claimed_amount == expected
    head_status = enterprise.locator(".program-head .status")
    expect(head_status).to_have_text(in_lang(lang, Status.DRAFT.label))
    arithmetic = enterprise.locator("#arithmetic table.arithmetic").first
    gpu_row = arithmetic.locator("tbody tr", has_text=gpu_number)
    storage_row = arithmetic.locator("tbody tr", has_text=storage_number)
    expect(gpu_row).to_contain_text(in_lang(lang, "counted"))
    expect(gpu_row).to_contain_text(amount(GPU_AMOUNT))
    expect(storage_row).to_contain_text(in_lang(lang, "not GPU/NPU compute"))
    expect(storage_row).to_contain_text(amount(STORAGE_AMOUNT))
    expect(arithmetic.locator("tfoot tr.total td.num")).to_have_text(amount(expected))
    expect(enterprise.locator("#submit .notice.rejected")).to_have_count(0)
    shot(journey, enterprise, "enterprise-claim-draft")

    # ... tries to submit without the declaration and reads why not ...
    submit = enterprise.locator(SUBMIT)
    submit.locator("input[name=payee_bank]").fill(PAYEE_BANK)
    submit.locator("input[name=payee_account]").fill(PAYEE_ACCOUNT)
    expect(submit.locator("input[name=declaration]")).not_to_be_checked()
    click_and_wait(enterprise, f"{SUBMIT} button[type=submit]")
    refusal = enterprise.locator(
        "#submit .field.has-error:has(input[name=declaration]) .field-error"
    )
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text(
        in_lang(
            lang,
            "Declare that the materials are true and that no other public fund pays for "
            "this compute.",
        )
    )
    claim.refresh_from_db()
    assert claim.status == Status.DRAFT
    shot(journey, enterprise, "enterprise-no-declaration")

    # ... and submits with it (the bank account typed is still there).
    submit = enterprise.locator(SUBMIT)
    expect(submit.locator("input[name=payee_bank]")).to_have_value(PAYEE_BANK)
    submit.locator("input[name=declaration]").check()
    click_and_wait(enterprise, f"{SUBMIT} button[type=submit]")
    assert_on(enterprise, claim_path)
    claim.refresh_from_db()
    assert claim.status == Status.SUBMITTED
    assert claim.payee_account == PAYEE_ACCOUNT.replace(" ", "")
    assert claim.declared_by == world.admin
    expect(head_status).to_have_text(in_lang(lang, Status.SUBMITTED.label))
    expect(enterprise.locator("#submit")).to_have_count(0)
    shot(journey, enterprise, "enterprise-submitted")

    # 3. Baoding's reviewer takes it up from "Waiting for you" ...
    change_path = f"/admin/settlements/claim/{pk}/change/"
    reviewer = wide_page(journey)
    journey.login(reviewer, world.reviewer.email, code=True)
    reviewer.wait_for_url("**/admin/")
    expect(reviewer.locator("html")).to_have_attribute("lang", lang)
    shot(journey, reviewer, "reviewer-admin-index")
    open_from_queue(journey, reviewer, "reviewer", "submitted", change_path, "claims_submitted")
    expect(reviewer.locator(status_field)).to_have_text(in_lang(lang, Status.SUBMITTED.label))
    shot(journey, reviewer, "reviewer-submitted")
    click_and_wait(reviewer, step_button(pk, "start-check"))
    assert_on(reviewer, change_path)
    claim.refresh_from_db()
    assert claim.status == Status.CHECKING
    expect(reviewer.locator(".messagelist .success")).to_be_visible()
    expect(reviewer.locator(status_field)).to_have_text(in_lang(lang, Status.CHECKING.label))
    # The storage invoice is not counted: there is nothing to leave out but the GPU one.
    invoices = reviewer.locator("#invoices")
    expect(invoices.locator("tr", has_text=storage_number)).to_contain_text(
        in_lang(lang, "Not counted (see the arithmetic)")
    )
    expect(invoices.locator("tr", has_text=gpu_number)).to_contain_text(in_lang(lang, "Counted"))
    expect(reviewer.locator("#arithmetic")).to_contain_text(amount(expected))
    shot(journey, reviewer, "reviewer-checking")

    # ... and returns it with a reason.
    click_and_wait(reviewer, step_button(pk, "return-for-changes"))
    expect(reviewer.locator("textarea[name=reason]")).to_be_visible()
    reviewer.fill("textarea[name=reason]", RETURN_REASON[lang])
    shot(journey, reviewer, "reviewer-return-form")
    click_and_wait(reviewer, "#content-main form .submit-row input[type=submit]")
    assert_on(reviewer, change_path)
    claim.refresh_from_db()
    assert claim.status == Status.RETURNED
    assert claim.return_reason == RETURN_REASON[lang]
    expect(reviewer.locator(status_field)).to_have_text(in_lang(lang, Status.RETURNED.label))
    shot(journey, reviewer, "reviewer-returned")

    # 4. The enterprise reads the reason and submits again; what it entered is kept.
    enterprise.goto(journey.url(claim_path))
    expect(head_status).to_have_text(in_lang(lang, Status.RETURNED.label))
    expect(enterprise.locator(".notice.returned")).to_contain_text(RETURN_REASON[lang])
    submit = enterprise.locator(SUBMIT)
    expect(submit.locator("input[name=payee_bank]")).to_have_value(PAYEE_BANK)
    expect(submit.locator("input[name=payee_account]")).to_have_value(
        PAYEE_ACCOUNT.replace(" ", "")
    )
    expect(enterprise.locator("#arithmetic tfoot tr.total td.num").first).to_have_text(
        amount(expected)
    )
    shot(journey, enterprise, "enterprise-returned")
    submit.locator("input[name=declaration]").check()
    click_and_wait(enterprise, f"{SUBMIT} button[type=submit]")
    assert_on(enterprise, claim_path)
    claim.refresh_from_db()
    assert claim.status == Status.SUBMITTED
    assert claim.claimed_amount == expected
    expect(head_status).to_have_text(in_lang(lang, Status.SUBMITTED.label))
    shot(journey, enterprise, "enterprise-resubmitted")

    # 5. The reviewer takes it up again and, leaving nothing out (the storage
    # invoice does not count anyway), passes it on to the assessor.
    reviewer.goto(journey.url("/admin/"))
    open_from_queue(journey, reviewer, "reviewer", "submitted", change_path, "claims_submitted")
    click_and_wait(reviewer, step_button(pk, "start-check"))
    claim.refresh_from_db()
    assert claim.status == Status.CHECKING
    click_and_wait(reviewer, step_button(pk, "pass-on"))
    expect(reviewer.locator("textarea[name=findings]")).to_be_visible()
    reviewer.fill("textarea[name=findings]", CHECK_FINDINGS[lang])
    reviewer.locator("select[name=assessor]").select_option(str(world.assessor.pk))
    shot(journey, reviewer, "reviewer-pass-on-form")
    click_and_wait(reviewer, "#content-main form .submit-row input[type=submit]")
    assert_on(reviewer, change_path)
    claim.refresh_from_db()
    assert claim.status == Status.ASSESSMENT
    assert claim.assessor == world.assessor
    assert claim.checked_by == world.reviewer
    assert claim.checked_amount == expected
    assert not claim.claimed_invoices.filter(excluded=True).exists()
    expect(reviewer.locator(status_field)).to_have_text(in_lang(lang, Status.ASSESSMENT.label))
    shot(journey, reviewer, "reviewer-passed-on")

    # 6. The assessor signs in, lands on their page and records the assessment.
    assessor = wide_page(journey)
    journey.login(assessor, world.assessor.email)
    assessor.wait_for_url("**/claims/assess/")
    expect(assessor.locator("html")).to_have_attribute("lang", lang)
    shot(journey, assessor, "assessor-list")
    click_and_wait(assessor, f"#claims a[href$='/claims/assess/claims/{pk}/']")
    expect(assessor.locator("#check")).to_contain_text(CHECK_FINDINGS[lang])
    expect(assessor.locator("#arithmetic tfoot tr.total td.num")).to_have_text(amount(expected))
    expect(assessor.locator("input[name=recommended]")).to_have_value(f"{expected}")
    shot(journey, assessor, "assessor-claim")
    assessor.fill("textarea[name=findings]", ASSESSMENT[lang])
    assessor.fill("input[name=recommended]", str(expected))
    click_and_wait(assessor, "#assessment form button[type=submit]")
    assert_on(assessor, f"/claims/assess/claims/{pk}/")
    claim.refresh_from_db()
    assert claim.status == Status.FINANCE
    assert claim.recommended_amount == expected
    assert claim.assessment_findings == ASSESSMENT[lang]
    expect(assessor.locator("#assessment")).to_contain_text(ASSESSMENT[lang])
    shot(journey, assessor, "assessor-assessed")

    # 7. Above ¥200,000: a first finance officer approves ...
    finance = wide_page(journey)
    journey.login(finance, world.finance.email, code=True)
    finance.wait_for_url("**/admin/")
    shot(journey, finance, "finance-admin-index")
    open_from_queue(journey, finance, "finance", "finance", change_path, "claims_to_approve")
    expect(finance.locator(".claim-steps")).to_contain_text(amount(expected))
    expect(finance.locator(step_button(pk, "approve"))).to_be_visible()
    shot(journey, finance, "finance-first-approval")
    click_and_wait(finance, step_button(pk, "approve"))
    claim.refresh_from_db()
    assert claim.status == Status.FINANCE
    assert claim.first_approved_by == world.finance
    expect(finance.locator(".messagelist .success")).to_be_visible()
    expect(finance.locator(step_button(pk, "approve"))).to_have_count(0)
    shot(journey, finance, "finance-first-approved")

    # ... a second one confirms it and records the payment.
    finance_2 = wide_page(journey)
    journey.login(finance_2, world.finance_2.email, code=True)
    finance_2.wait_for_url("**/admin/")
    open_from_queue(
        journey, finance_2, "finance2", "finance", change_path, "claims_second_approval"
    )
    shot(journey, finance_2, "finance2-second-approval")
    click_and_wait(finance_2, step_button(pk, "approve"))
    claim.refresh_from_db()
    assert claim.status == Status.APPROVED
    assert claim.approved_by == world.finance_2
    assert claim.approved_amount == expected
    expect(finance_2.locator(status_field)).to_have_text(in_lang(lang, Status.APPROVED.label))
    shot(journey, finance_2, "finance2-approved")
    click_and_wait(finance_2, step_button(pk, "record-payment"))
    expect(finance_2.locator("input[name=amount]")).to_have_value(str(expected))
    finance_2.fill("input[name=paid_on]", timezone.localdate().isoformat())
    finance_2.fill("input[name=payer_account]", PAYER_ACCOUNT)
    finance_2.fill("input[name=bank_reference]", f"BD-JOURNEY-{lang}")
    shot(journey, finance_2, "finance2-payment-form")
    click_and_wait(finance_2, "#content-main form .submit-row input[type=submit]")
    assert_on(finance_2, change_path)
    claim.refresh_from_db()
    assert claim.status == Status.PAID
    assert claim.paid_amount == expected
    expect(finance_2.locator(status_field)).to_have_text(in_lang(lang, Status.PAID.label))
    expect(finance_2.locator("#payments tbody tr")).to_have_count(1)
    shot(journey, finance_2, "finance2-paid")

    events = AuditEvent.objects.filter(
        object_type=object_type_of(Claim), object_id=str(pk)
    ).order_by("id")
    assert [e.event_type for e in events] == [
        "claim.created",
        "claim.submitted",
        "claim.check_started",
        "claim.returned",
        "claim.submitted",
        "claim.check_started",
        "claim.passed_to_assessor",
        "claim.assessed",
        "claim.first_approval",
        "claim.approved",
        "claim.payment_recorded",
        "claim.paid",
    ]

    # 8. The enterprise sees it paid and downloads the payment notice.
    enterprise.goto(journey.url(claim_path))
    expect(head_status).to_have_text(in_lang(lang, Status.PAID.label))
    expect(enterprise.locator("#payments tbody tr")).to_have_count(1)
    expect(enterprise.locator("#payments")).to_contain_text(f"BD-JOURNEY-{lang}")
    expect(enterprise.locator("#payments")).to_contain_text(amount(expected))
    shot(journey, enterprise, "enterprise-paid")
    with enterprise.expect_download() as caught:
        enterprise.locator("#payments a[href$='/notice.pdf']").click()
    download = caught.value
    assert download.suggested_filename.endswith(".pdf"), download.suggested_filename
    path = download.path()
    assert path is not None
    content = path.read_bytes()
    assert content.startswith(b"%PDF")
    shoot_pdf(journey, content, "enterprise-payment-notice")

    # ... and finds it paid in the list of its contracts and claims.
    click_and_wait(enterprise, "nav.subnav a[href$='/claims/']")
    row = enterprise.locator("#contracts tbody tr", has_text=contract_number)
    expect(row.locator(f"a[href$='{claim_path}']")).to_be_visible()
    expect(row.locator(".status")).to_have_text(in_lang(lang, Status.PAID.label))
    shot(journey, enterprise, "enterprise-claims-paid")
