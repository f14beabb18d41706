"""The enterprise's contract and claim pages and the assessor's pages: who
may use them, who may not (another enterprise, an official of the district,
an assessor the claim is not assigned to), and what each one shows."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from accounts.adapters import AccountAdapter
from accounts.models import Membership, User
from common import formatting
from programs.models import Program
from settlements import claims as services
from settlements.agreements import agreement_assign, agreement_open
from settlements.models import Claim, Contract, ContractDocument, PerformanceAgreement
from tests.accounts.factories import EnterpriseFactory, make_uscc
from tests.settlements.claim_factories import (
    PDF,
    ClaimWorld,
    actor,
    approved,
    assessor_of,
    build,
    make_contract,
    pay,
    submitted,
    to_finance,
    upload,
)
from tests.vouchers.factories import client_for, member, with_mfa

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]

Role = Membership.Role


def body(response: Any) -> str:
    return response.content.decode()


def claim_on(world: ClaimWorld, contract: Contract | None = None) -> Claim:
    contract = contract or make_contract(world)
    return services.claim_create(actor=actor(world.admin), program=world.program, contract=contract)


def with_the_assessor(world: ClaimWorld, **kw: Any) -> Claim:
    """A submitted claim the district checked and passed to ``world.assessor``."""
    assessor = kw.pop("assessor", world.assessor)
    claim = submitted(world, **kw)
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    return services.claim_pass_on(
        actor=actor(world.reviewer), claim=claim, findings="材料齐全，发票真实。", assessor=assessor
    )


# --- The enterprise: contracts, invoices, proofs ----------------------------------


def test_an_administrator_records_a_contract_with_a_pasted_code() -> None:
    world = build()
    client = client_for(world.admin)
    code = make_uscc("110108", serial=4242)
    pasted = " ".join(code[i : i + 4] for i in range(0, 18, 4)).lower()
    form = {
        "side": "buyer",
        "number": "HT-2025-001",
        "counterparty_uscc": f" {pasted} ",
        "counterparty_name": "北京算力供应有限公司",
        "signed_on": "2025-12-20",
        "service_starts_on": "2026-01-01",
        "service_ends_on": "2026-12-31",
        "amount": "1200000.00",
        "service_kind": "gpu",
        "description": "A800 × 64, one year.",
    }

    response = client.post(reverse("contract_new"), form)

    contract = Contract.objects.get(enterprise=world.enterprise)
    assert response.status_code == 302
    assert response["Location"] == reverse("contract_detail", args=[contract.pk])
    assert contract.supplier_uscc == code
    assert contract.buyer_uscc == world.enterprise.uscc
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "HT-2025-001" in body(page)
    assert code in body(page)


def test_a_refused_contract_is_shown_on_its_field_with_what_was_typed() -> None:
    world = build()
    client = client_for(world.admin)
    form = {
        "side": "buyer",
        "number": "HT-9",
        "counterparty_uscc": world.enterprise.uscc,
        "counterparty_name": "Ourselves",
        "signed_on": "2025-12-20",
        "service_starts_on": "2026-01-01",
        "service_ends_on": "2026-12-31",
        "amount": "1000.00",
        "service_kind": "gpu",
    }

    response = client.post(reverse("contract_new"), form)

    assert response.status_code == 400
    assert response.context["form"].errors["counterparty_uscc"] == [
        "An enterprise cannot contract with itself."
    ]
    assert 'value="HT-9"' in body(response)
    assert not Contract.objects.exists()


def test_invoices_and_proofs_are_added_on_the_contract_page_and_downloaded() -> None:
    world = build()
    contract = make_contract(world, invoices=[], documents=False)
    client = client_for(world.admin)
    page = reverse("contract_detail", args=[contract.pk])

    added = client.post(
        reverse("contract_invoice_add", args=[contract.pk]),
        {
            "invoice-number": "1234 5678 9012",
            "invoice-issued_on": "2026-01-05",
            "invoice-amount": "1200000.00",
            "invoice-service_kind": "gpu",
            "invoice-paid_on": "2026-01-10",
        },
    )
    assert added.status_code == 302
    assert added["Location"].startswith(page)
    invoice = contract.invoices.get()
    assert invoice.number == "123456789012"

    uploaded = client.post(
        reverse("contract_document_upload", args=[contract.pk]),
        {"document-kind": "payment", "document-invoice": invoice.pk, "document-file": upload()},
    )
    assert uploaded.status_code == 302
    document = contract.documents.get()
    assert (document.kind, document.invoice_id) == (ContractDocument.Kind.PAYMENT, invoice.pk)

    shown = body(client.get(page))
    assert "123456789012" in shown
    assert "proof.pdf" in shown
    download = client.get(reverse("contract_document", args=[contract.pk, document.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(PDF)
    assert "no-store" in download["Cache-Control"]


def test_a_refused_invoice_or_upload_is_shown_on_its_field() -> None:
    world = build()
    contract = make_contract(world, invoices=[], documents=False)
    client = client_for(world.admin)

    short = client.post(
        reverse("contract_invoice_add", args=[contract.pk]),
        {
            "invoice-number": "123",
            "invoice-issued_on": "2026-01-05",
            "invoice-amount": "100.00",
            "invoice-service_kind": "gpu",
        },
    )
    not_a_pdf = client.post(
        reverse("contract_document_upload", args=[contract.pk]),
        {"document-kind": "contract", "document-file": upload("x.pdf", b"MZ not a document")},
    )

    assert short.status_code == 400
    assert short.context["invoice_form"].errors["number"] == [
        "An invoice number has 8 to 20 letters and digits."
    ]
    assert not_a_pdf.status_code == 400
    assert not_a_pdf.context["document_form"].errors["file"]
    assert not contract.invoices.exists()
    assert not contract.documents.exists()


def test_a_member_reads_the_pages_but_may_not_change_them() -> None:
    world = build()
    contract = make_contract(world)
    reader = User.objects.create_user(email="reader@example.com", password="x" * 16)
    Membership.objects.create(user=reader, role=Role.ENTERPRISE_MEMBER, enterprise=world.enterprise)
    client = client_for(reader)

    page = client.get(reverse("contract_detail", args=[contract.pk]))
    refused = client.post(
        reverse("contract_invoice_add", args=[contract.pk]),
        {
            "invoice-number": "99990000111",
            "invoice-issued_on": "2026-01-05",
            "invoice-amount": "100.00",
            "invoice-service_kind": "gpu",
        },
    )

    assert page.status_code == 200
    assert contract.number in body(page)
    assert "Add the invoice" not in body(page)
    assert refused.status_code == 400
    assert contract.invoices.count() == 1
    assert client.get(reverse("contract_new")).status_code == 302
    claim = claim_on(world, contract)
    submit = client.post(
        reverse("claim_detail", args=[claim.pk]),
        {"declaration": "on", "payee_bank": "中国银行", "payee_account": "6216610200016589"},
    )
    assert submit.status_code == 302
    claim.refresh_from_db()
    assert claim.status == Claim.Status.DRAFT
    assert "Withdraw the claim" not in body(client.get(reverse("claim_detail", args=[claim.pk])))


# --- The enterprise: claims ---------------------------------------------------------


def test_the_list_shows_contracts_claims_and_the_programs_taking_claims(
    django_assert_max_num_queries: Any,
) -> None:
    world = build()
    claim = claim_on(world)
    make_contract(world)
    platform_program = build(payout_mode=Program.PayoutMode.DEDUCT_AT_PLATFORM).program
    client = client_for(world.admin)

    with django_assert_max_num_queries(15):
        response = client.get(reverse("claim_list"))

    shown = body(response)
    assert response.status_code == 200
    assert claim.contract.number in shown
    assert reverse("claim_detail", args=[claim.pk]) in shown
    assert f"{reverse('claim_start')}?program={world.program.pk}" in shown
    assert f"?program={platform_program.pk}" not in shown


def test_an_administrator_starts_a_claim_sees_the_arithmetic_and_submits() -> None:
    world = build()
    contract = make_contract(world)  # ¥1,200,000 paid: 30 % is ¥360,000, capped at ¥300,000
    client = client_for(world.admin)

    started = client.post(
        reverse("claim_start"), {"program": world.program.pk, "contract": contract.pk}
    )
    claim = Claim.objects.get(contract=contract)
    assert started.status_code == 302
    assert started["Location"] == reverse("claim_detail", args=[claim.pk])

    page = client.get(started["Location"])
    shown = body(page)
    assert page.status_code == 200
    assert "Eligible spend" in shown
    assert "Subsidy at 30%" in shown
    assert "Cap per claim" in shown
    assert page.context["total"] == ("Subsidy claimed", "", "¥300,000.00")
    assert page.context["refusals"] == []
    assert "no other public fund pays for the same compute" in shown

    undeclared = client.post(
        started["Location"],
        {"payee_bank": "中国银行保定分行", "payee_account": "6216 6102 0001 6589"},
    )
    assert undeclared.status_code == 400
    assert undeclared.context["form"].errors["declaration"] == [
        "Declare that the materials are true and that no other public fund pays for this compute."
    ]
    assert "6216 6102 0001 6589" in body(undeclared)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.DRAFT

    done = client.post(
        started["Location"],
        {
            "declaration": "on",
            "payee_bank": "中国银行保定分行",
            "payee_account": "6216 6102 0001 6589",
        },
    )
    assert done.status_code == 302
    claim.refresh_from_db()
    assert claim.status == Claim.Status.SUBMITTED
    assert claim.claimed_amount == Decimal("300000.00")
    assert claim.payee_account == "6216610200016589"
    after = body(client.get(started["Location"]))
    assert "Submit the claim" not in after
    assert "Declared by" in after


def test_what_stands_in_the_way_is_listed_before_submission_and_refuses_it() -> None:
    today = timezone.localdate()
    world = build()
    # A draft started while claims were taken; the window has closed since.
    claim = claim_on(world, make_contract(world, documents=False))
    Program.objects.filter(pk=world.program.pk).update(
        claim_opens_on=today - datetime.timedelta(days=30),
        claim_closes_on=today - datetime.timedelta(days=1),
    )
    client = client_for(world.admin)
    url = reverse("claim_detail", args=[claim.pk])

    page = client.get(url)
    refused = client.post(
        url, {"declaration": "on", "payee_bank": "中国银行", "payee_account": "6216610200016589"}
    )

    with translation.override("en"):
        closed = f"Claims closed on {formatting.date(today - datetime.timedelta(days=1))}."
    assert closed in page.context["refusals"]
    assert "Attach the signed contract." in page.context["refusals"]
    assert closed in body(page)
    assert refused.status_code == 400
    assert closed in " ".join(refused.context["form"].non_field_errors())
    claim.refresh_from_db()
    assert claim.status == Claim.Status.DRAFT


def test_a_claim_follows_invoices_added_after_it_was_started() -> None:
    world = build()
    contract = make_contract(world, invoices=[])
    claim = claim_on(world, contract)
    assert claim.claimed_amount == 0
    services.invoice_record(
        actor=actor(world.admin),
        contract=contract,
        number="55556666777",
        issued_on=datetime.date(2026, 1, 5),
        amount=Decimal("1200000.00"),
        service_kind="gpu",
        paid_on=datetime.date(2026, 1, 10),
    )

    page = client_for(world.admin).get(reverse("claim_detail", args=[claim.pk]))

    assert page.context["total"][2] == "¥300,000.00"
    assert "Invoice 55556666777" in body(page)


def test_a_returned_claim_shows_the_reason_and_keeps_what_was_entered() -> None:
    world = build()
    claim = submitted(world)
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    services.claim_return(actor=actor(world.reviewer), claim=claim, reason="请补充交付验收单。")
    client = client_for(world.admin)

    page = client.get(reverse("claim_detail", args=[claim.pk]))

    shown = body(page)
    assert "请补充交付验收单。" in shown
    assert 'value="中国银行保定分行"' in shown
    assert 'value="6216610200016589"' in shown
    assert "Submit again" in shown
    again = client.post(
        reverse("claim_detail", args=[claim.pk]),
        {
            "declaration": "on",
            "payee_bank": "中国银行保定分行",
            "payee_account": "6216610200016589",
        },
    )
    assert again.status_code == 302
    claim.refresh_from_db()
    assert claim.status == Claim.Status.SUBMITTED


def test_an_administrator_withdraws_a_draft_claim() -> None:
    world = build()
    claim = claim_on(world)

    response = client_for(world.admin).post(reverse("claim_withdraw", args=[claim.pk]))

    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == Claim.Status.WITHDRAWN


def test_the_review_outcome_shows_exclusions_approval_and_payments() -> None:
    world = build()
    contract = make_contract(
        world, invoices=[("11112222333", "600000.00"), ("44445555666", "600000.00")]
    )
    claim = submitted(world, contract)
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    claim = services.claim_exclude_invoice(
        actor=actor(world.reviewer), claim=claim, number="44445555666", reason="发票与合同不符。"
    )
    claim = services.claim_pass_on(
        actor=actor(world.reviewer), claim=claim, findings="核查完毕。", assessor=world.assessor
    )
    claim = services.claim_assess(
        actor=actor(world.assessor),
        claim=claim,
        findings="一致。",
        recommended=claim.checked_amount,
    )
    claim = approved(world, claim)
    pay(world, claim, ref="BK-2026-77")

    page = client_for(world.admin).get(reverse("claim_detail", args=[claim.pk]))

    shown = body(page)
    assert "发票与合同不符。" in shown
    assert "44445555666" in shown
    assert "Approved for ¥180,000.00." in shown
    assert "BK-2026-77" in shown
    assert [state for _label, state in page.context["progress"]][-1] == "current"
    assert page.context["checked_total"][2] == "¥180,000.00"


# --- Who may not -------------------------------------------------------------------


def _enterprise_pages(world: ClaimWorld) -> tuple[list[str], list[str]]:
    contract = make_contract(world)
    claim = claim_on(world, contract)
    document = contract.documents.first()
    assert document is not None
    reads = [
        reverse("contract_detail", args=[contract.pk]),
        reverse("contract_document", args=[contract.pk, document.pk]),
        reverse("claim_detail", args=[claim.pk]),
    ]
    writes = [
        reverse("contract_invoice_add", args=[contract.pk]),
        reverse("contract_document_upload", args=[contract.pk]),
        reverse("claim_detail", args=[claim.pk]),
        reverse("claim_withdraw", args=[claim.pk]),
    ]
    return reads, writes


def test_another_enterprise_gets_404_on_every_page() -> None:
    world = build()
    reads, writes = _enterprise_pages(world)
    claim = Claim.objects.get()
    other = member(EnterpriseFactory(district=world.district))
    client = client_for(other)

    for url in reads:
        assert client.get(url).status_code == 404, url
    for url in writes:
        assert client.post(url, {"declaration": "on"}).status_code == 404, url
    started = client.post(
        reverse("claim_start"), {"program": world.program.pk, "contract": claim.contract_id}
    )
    assert started.status_code == 400
    assert Claim.objects.count() == 1
    assert claim.contract.number not in body(client.get(reverse("claim_list")))
    for name in ("assess_list",):
        assert client.get(reverse(name)).status_code == 404
    assert client.get(reverse("assess_claim", args=[claim.pk])).status_code == 404
    claim.refresh_from_db()
    assert claim.status == Claim.Status.DRAFT


def test_an_official_of_the_district_sees_nothing_here() -> None:
    world = build()
    reads, writes = _enterprise_pages(world)
    claim = Claim.objects.get()
    client = client_for(with_mfa(world.reviewer))

    listing = client.get(reverse("claim_list"))
    assert listing.status_code == 302
    assert claim.contract.number not in body(listing)
    for url in reads:
        assert client.get(url).status_code == 404, url
    for url in writes:
        assert client.post(url).status_code == 404, url
    assert client.get(reverse("assess_list")).status_code == 404
    assert client.get(reverse("assess_claim", args=[claim.pk])).status_code == 404
    # Without two-factor authentication an official is sent to set it up, not here.
    assert client_for(world.finance).get(reads[0]).status_code == 302


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    world = build()
    reads, _writes = _enterprise_pages(world)
    client = client_for(world.admin)
    client.logout()

    for url in [*reads, reverse("claim_list"), reverse("assess_list")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login"))


# --- The assessor ------------------------------------------------------------------


def test_the_assessor_sees_only_the_claims_assigned_to_them() -> None:
    world = build()
    mine = with_the_assessor(world)
    someone_else = assessor_of(world.district)
    other = EnterpriseFactory(district=world.district)
    theirs = with_the_assessor(world, assessor=someone_else, enterprise=other, admin=member(other))
    document = mine.contract.documents.first()
    assert document is not None
    their_document = theirs.contract.documents.first()
    assert their_document is not None
    client = client_for(world.assessor)

    listing = client.get(reverse("assess_list"))
    page = client.get(reverse("assess_claim", args=[mine.pk]))
    download = client.get(reverse("assess_claim_document", args=[mine.pk, document.pk]))

    assert listing.status_code == 200
    assert reverse("assess_claim", args=[mine.pk]) in body(listing)
    assert reverse("assess_claim", args=[theirs.pk]) not in body(listing)
    assert page.status_code == 200
    assert "材料齐全，发票真实。" in body(page)  # the district's check
    assert "Eligible spend" in body(page)
    assert mine.contract.number in body(page)
    assert download.status_code == 200
    assert client.get(reverse("assess_claim", args=[theirs.pk])).status_code == 404
    assert (
        client.get(
            reverse("assess_claim_document", args=[theirs.pk, their_document.pk])
        ).status_code
        == 404
    )
    # Another claim's document through the assessor's own claim: not found either.
    assert (
        client.get(reverse("assess_claim_document", args=[mine.pk, their_document.pk])).status_code
        == 404
    )
    # The enterprise's own pages are not the assessor's.
    assert client.get(reverse("claim_detail", args=[mine.pk])).status_code == 404
    assert (
        client.get(reverse("contract_document", args=[mine.contract_id, document.pk])).status_code
        == 404
    )
    assert client.get(reverse("claim_list"))["Location"] == reverse("assess_list")


def test_the_assessor_records_findings_and_a_recommended_amount() -> None:
    world = build()
    claim = with_the_assessor(world)
    client = client_for(world.assessor)
    url = reverse("assess_claim", args=[claim.pk])

    too_much = client.post(url, {"findings": "一致。", "recommended": "300000.01"})
    assert too_much.status_code == 400
    assert too_much.context["form"].errors["recommended"]
    claim.refresh_from_db()
    assert claim.status == Claim.Status.ASSESSMENT

    done = client.post(url, {"findings": "合同、发票、凭证一致。", "recommended": "250000.00"})

    assert done.status_code == 302
    claim.refresh_from_db()
    assert claim.status == Claim.Status.FINANCE
    assert claim.recommended_amount == Decimal("250000.00")
    assert claim.assessment_findings == "合同、发票、凭证一致。"
    again = client.get(url)
    assert again.context["form"] is None
    assert "合同、发票、凭证一致。" in body(again)
    assert client.post(url, {"findings": "x", "recommended": "1"}).status_code == 302


def test_an_assessor_of_the_district_may_not_assess_a_claim_given_to_another() -> None:
    world = build()
    claim = with_the_assessor(world, assessor=assessor_of(world.district))

    response = client_for(world.assessor).post(
        reverse("assess_claim", args=[claim.pk]), {"findings": "x", "recommended": "1"}
    )

    assert response.status_code == 404
    claim.refresh_from_db()
    assert claim.status == Claim.Status.ASSESSMENT


def _assigned_agreement(world: ClaimWorld) -> PerformanceAgreement:
    Program.objects.filter(pk=world.program.pk).update(
        requires_agreement=True,
        agreement_targets=[
            {"kind": "headcount", "target": "20"},
            {"kind": "local_tax", "target": "100000"},
        ],
    )
    world.program.refresh_from_db()
    agreement = agreement_open(
        actor=actor(world.manager),
        program=world.program,
        enterprise=world.enterprise,
        subsidy=Decimal("300000.00"),
        starts_on=datetime.date(2024, 1, 31),
    )
    assert agreement is not None
    return agreement_assign(
        actor=actor(world.manager), agreement=agreement, assessor=world.assessor
    )


def test_the_assessor_records_the_measured_values_of_an_agreement() -> None:
    world = build()
    agreement = _assigned_agreement(world)
    client = client_for(world.assessor)
    url = reverse("assess_agreement", args=[agreement.pk])

    listing = client.get(reverse("assess_list"))
    page = client.get(url)
    missing = client.post(url, {"report": "核查了社保和纳税记录。", "measured_headcount": "18"})
    done = client.post(
        url,
        {
            "report": "核查了社保和纳税记录。",
            "measured_headcount": "18",
            "measured_local_tax": "120000",
        },
    )

    assert url in body(listing)
    assert page.status_code == 200
    assert "Headcount" in body(page)
    assert missing.status_code == 400
    assert missing.context["form"].errors["measured_local_tax"]
    assert done.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == PerformanceAgreement.Status.ASSESSED
    assert agreement.report == "核查了社保和纳税记录。"
    measured = dict(agreement.obligations.values_list("kind", "measured"))
    assert measured == {"headcount": Decimal("18.00"), "local_tax": Decimal("120000.00")}


def test_nobody_else_opens_an_agreement_page() -> None:
    world = build()
    agreement = _assigned_agreement(world)
    url = reverse("assess_agreement", args=[agreement.pk])

    for user in (
        world.admin,
        assessor_of(world.district),
        with_mfa(world.manager),
    ):
        assert client_for(user).get(url).status_code == 404, user
        assert client_for(user).post(url, {"report": "x"}).status_code == 404, user


def test_an_assessor_lands_on_their_page_after_signing_in() -> None:
    world = build()
    request = RequestFactory().get("/")
    adapter = AccountAdapter()

    request.user = world.assessor
    assert adapter.get_login_redirect_url(request) == reverse("assess_list")
    request.user = world.admin
    assert adapter.get_login_redirect_url(request) == reverse("portal")


def test_a_claim_past_the_assessor_is_still_listed_for_them_read_only() -> None:
    world = build()
    claim = to_finance(world, submitted(world))

    listing = client_for(world.assessor).get(reverse("assess_list"))

    assert listing.context["waiting_claims"] == []
    assert [c.pk for c in listing.context["other_claims"]] == [claim.pk]


def test_an_assessor_opening_the_portal_lands_on_their_page() -> None:
    world = build()
    response = client_for(world.assessor).get(reverse("portal"))
    assert response.status_code == 302
    assert response.url == reverse("assess_list")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_claimant_downloads_the_payment_notice_of_each_payment(language: str) -> None:
    world = build(settlement_four_eyes_threshold=None)
    claim = approved(world, to_finance(world, submitted(world)))
    payment = pay(world, claim, ref="BK-NOTICE")
    url = reverse("claim_payment_notice", args=[claim.pk, payment.pk])
    response = client_for(world.admin).get(url, {"lang": language})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    stranger = member(EnterpriseFactory())
    assert client_for(stranger).get(url).status_code == 404
