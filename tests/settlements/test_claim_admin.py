"""The officials' claim, contract and performance-agreement pages in the
admin: the claim's page in every status, each step taken from the admin
through its service, the steps offered only to whoever may take them now
(per role, four eyes, the reviewer who checked), documents served only to
the district's officials, and every step refused to everyone else."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import District, Membership
from settlements import claims as services
from settlements.admin_claims import CLAIM_STEPS, claim_step_label
from settlements.models import Claim, ClaimedInvoice, Payment, PerformanceAgreement
from tests.accounts.factories import ComputePlatformFactory, platform_operator
from tests.settlements.claim_factories import (
    ClaimWorld,
    actor,
    approved,
    build,
    make_contract,
    pay,
    submitted,
    to_finance,
)
from tests.vouchers.factories import client_for, official, with_mfa
from vouchers.models import Receivable

pytestmark = pytest.mark.django_db
Role = Membership.Role
D = Decimal

#: Two invoices: leaving the second out still leaves a claim above the threshold.
TWO_INVOICES = [(None, "700000.00"), (None, "500000.00")]


@pytest.fixture(autouse=True)
def _private_media(private_media: Any) -> None:
    """Contract documents in the test's own folder."""


def admin_client(user: Any) -> Client:
    """An official signed in to the admin (officials need TOTP to enter it)."""
    return client_for(with_mfa(user))


def step_url(step: str, claim: Claim) -> str:
    name = "approve" if step.startswith("approve") else step
    return reverse(f"admin:settlements_claim_{name}", args=[claim.pk])


def change_url(claim: Claim) -> str:
    return reverse("admin:settlements_claim_change", args=[claim.pk])


def messages_after(client: Client, response: Any) -> list[Any]:
    return list(get_messages(client.get(response["Location"]).wsgi_request))


def took(client: Client, step: str, claim: Claim, **data: Any) -> str:
    """POST a step that must be taken: back to the claim's page, saying what was done."""
    response = client.post(step_url(step, claim), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == change_url(claim)
    shown = messages_after(client, response)
    assert [m.level_tag for m in shown] == ["success"], shown
    return str(shown[0])


def refused(client: Client, step: str, claim: Claim, **data: Any) -> str:
    """POST a step that must be refused: back to the claim's page with one error."""
    response = client.post(step_url(step, claim), data)
    assert response.status_code == 302
    assert response["Location"] == change_url(claim)
    shown = messages_after(client, response)
    assert [m.level_tag for m in shown] == ["error"], shown
    return str(shown[0])


def page(client: Client, claim: Claim) -> str:
    response = client.get(change_url(claim))
    assert response.status_code == 200
    return response.content.decode()


def offered(client: Client, claim: Claim) -> set[str]:
    """The steps the claim's page offers: each one's address and button."""
    html = page(client, claim)
    steps = set()
    for step in CLAIM_STEPS:
        label = escape(claim_step_label(claim, step))
        button = f'value="{label}"' in html or f'value="{label} …"' in html
        if step_url(step, claim) in html and button:
            steps.add(step)
    return steps


def counted(claim: Claim) -> list[str]:
    return list(
        ClaimedInvoice.objects.filter(claim=claim, excluded=False).values_list("number", flat=True)
    )


def payment(amount: str, reference: str) -> dict[str, Any]:
    return {
        "amount": amount,
        "paid_on": timezone.localdate().isoformat(),
        "payer_account": "保定市财政局 1300",
        "bank_reference": reference,
    }


# -- the whole life from the admin -------------------------------------------------


def test_a_claim_goes_through_every_step_from_the_admin() -> None:
    world = build()
    claim = submitted(world, invoices=TWO_INVOICES)
    reviewer = admin_client(world.reviewer)
    first, second = admin_client(world.finance), admin_client(world.finance_2)

    assert offered(reviewer, claim) == {"start_check"}
    said = took(reviewer, "start_check", claim)
    assert said == "Taken up: check the claim, then pass it on, return or reject it."
    assert offered(reviewer, claim) == {
        "exclude_invoice",
        "return_for_changes",
        "pass_on",
        "reject",
    }

    # Leave the second invoice out: the form, then the amount after the check.
    left_out = counted(claim)[1]
    form = reviewer.get(step_url("exclude_invoice", claim), {"number": left_out})
    assert form.status_code == 200 and left_out in form.content.decode()
    said = took(
        reviewer, "exclude_invoice", claim, number=left_out, reason="付款凭证与发票金额不符。"
    )
    assert said == f"Invoice {left_out} left out: ¥210,000.00 after the check."
    html = page(reviewer, claim)
    assert "The subsidy after the district's check" in html
    assert "付款凭证与发票金额不符。" in html

    # Pass it on to the assessor the reviewer chooses.
    form = reviewer.get(step_url("pass_on", claim))
    assert world.assessor.email in form.content.decode()
    said = took(reviewer, "pass_on", claim, findings="材料真实完整。", assessor=world.assessor.pk)
    assert said == f"Passed on to the assessor {world.assessor}."
    claim.refresh_from_db()
    assert (claim.status, claim.assessor, claim.checked_by) == (
        "assessment",
        world.assessor,
        world.reviewer,
    )
    assert offered(first, claim) == set()
    services.claim_assess(
        actor=actor(world.assessor), claim=claim, findings="一致。", recommended=D("210000.00")
    )

    # Above the threshold: two different finance officers.
    assert offered(first, claim) == {"approve_first"}
    assert "two different finance officers approve" in page(first, claim)
    said = took(first, "approve_first", claim)
    assert said == "First approval recorded: another finance officer must confirm it."
    assert offered(first, claim) == set()
    assert "You gave the first approval" in page(first, claim)
    assert offered(second, claim) == {"approve_second"}
    assert took(second, "approve_second", claim) == "Approved: ¥210,000.00."

    # Payments in two parts.
    assert offered(first, claim) == {"record_payment"}
    said = took(first, "record_payment", claim, **payment("10000.00", "BK-1"))
    assert said == "Payment of ¥10,000.00 recorded; ¥200,000.00 is still to pay."
    said = took(first, "record_payment", claim, **payment("200000.00", "BK-2"))
    assert said == "Payment of ¥200,000.00 recorded: the claim is paid in full."
    claim.refresh_from_db()
    assert (claim.status, claim.paid_amount) == ("paid", D("210000.00"))
    html = page(first, claim)
    assert "Paid in full." in html and "BK-2" in html
    for label in (
        "Taken up for the district",
        "Invoice left out",
        "First approval",
        "Paid in full",
    ):
        assert label in html


def test_return_and_reject_ask_for_the_reason_the_claimant_reads() -> None:
    world = build(claim_requires_assessment=False, claim_cap_per_year=None)
    reviewer = admin_client(world.reviewer)
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=submitted(world))
    response = reviewer.post(step_url("return_for_changes", claim), {"reason": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert took(reviewer, "return_for_changes", claim, reason="请补充交付凭证。") == (
        "Returned to the claimant for changes."
    )
    claim.refresh_from_db()
    assert (claim.status, claim.return_reason) == ("returned", "请补充交付凭证。")

    other = services.claim_start_check(
        actor=actor(world.reviewer), claim=submitted(world, invoices=TWO_INVOICES)
    )
    said = took(reviewer, "reject", other, reason="关联交易。")
    assert said == "The claim is rejected; its contract and invoices are free again."
    other.refresh_from_db()
    assert other.status == "rejected"
    assert "Rejected: 关联交易。" in page(reviewer, other)

    # Without third-party assessment, passing on goes straight to finance.
    third = services.claim_start_check(
        actor=actor(world.reviewer),
        claim=submitted(world, world.contract(number="HT-THIRD")),
    )
    form = reviewer.get(step_url("pass_on", third)).content.decode()
    assert 'name="assessor"' not in form
    assert took(reviewer, "pass_on", third, findings="ok") == "Passed on to finance for approval."


# -- every status renders, for each official who reads it ---------------------------


def at_status(world: ClaimWorld, status: str) -> Claim:
    """A claim of the world in ``status`` (finance_first: after a first approval)."""
    if status in ("draft", "withdrawn"):
        draft = services.claim_create(
            actor=actor(world.admin), program=world.program, contract=make_contract(world)
        )
        if status == "draft":
            return draft
        return services.claim_withdraw(actor=actor(world.admin), claim=draft)
    claim = submitted(world)
    if status == "submitted":
        return claim
    if status in ("finance", "finance_first", "approved", "paid"):
        claim = to_finance(world, claim)
        if status == "finance":
            return claim
        if status == "finance_first":
            return services.claim_approve(actor=actor(world.finance), claim=claim)
        claim = approved(world, claim)
        if status == "paid":
            pay(world, claim)
        return Claim.objects.get(pk=claim.pk)
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    if status == "returned":
        return services.claim_return(actor=actor(world.reviewer), claim=claim, reason="补充。")
    if status == "rejected":
        return services.claim_reject(actor=actor(world.reviewer), claim=claim, reason="不符。")
    if status == "assessment":
        return services.claim_pass_on(
            actor=actor(world.reviewer), claim=claim, findings="ok", assessor=world.assessor
        )
    return claim


STATUSES = [
    ("draft", "A draft: the claimant has not submitted it."),
    ("submitted", "Waiting for a reviewer of the district to take it up."),
    ("checking", "Under the district&#x27;s check"),
    ("returned", "Returned: waiting for the claimant to correct it"),
    ("rejected", "Rejected: 不符。"),
    ("withdrawn", "Withdrawn by the claimant."),
    ("assessment", "With the assessor"),
    ("finance", "Waiting for a finance officer&#x27;s approval of ¥300,000.00."),
    ("finance_first", "Waiting for a second finance officer to confirm the approval."),
    ("approved", "Approved: waiting for payment of ¥300,000.00."),
    ("paid", "Paid in full."),
]


@pytest.mark.parametrize(("status", "says"), STATUSES)
def test_the_claims_page_renders_in_every_status(status: str, says: str) -> None:
    world = build()
    claim = at_status(world, status)
    expected = "finance" if status == "finance_first" else status
    assert Claim.objects.get(pk=claim.pk).status == expected
    auditor = official(world.district, Role.AUDITOR)
    for user in (world.reviewer, world.finance, world.manager, auditor):
        html = page(admin_client(user), claim)
        assert says in html, user
        assert "Next step" in html
        assert "The subsidy claimed" in html
        assert claim.contract.number in html
        assert "Documents" in html and "History" in html
        assert "The claimant's declaration" in html
    # Managers and auditors read; they are offered nothing.
    assert offered(admin_client(world.manager), claim) == set()
    assert offered(admin_client(auditor), claim) == set()


def test_the_page_shows_the_arithmetic_flags_and_declaration() -> None:
    from tests.accounts.factories import EnterpriseFactory

    world = build()
    supplier = EnterpriseFactory(
        district=world.district, legal_representative=world.enterprise.legal_representative
    )
    claim = submitted(world, world.contract(supplier_uscc=supplier.uscc))
    html = page(admin_client(world.reviewer), claim)
    assert "Findings to look at" in html
    assert claim.flags[0]["message"] in html
    for words in ("Eligible spend", "Subsidy at 30%", "Cap per claim", "Subsidy claimed"):
        assert words in html, words
    assert "¥300,000.00" in html
    assert "We declare that the contract" in html


# -- who is offered what ---------------------------------------------------------------


def test_each_role_is_offered_only_its_own_steps() -> None:
    world = build()
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=submitted(world))
    reviewer, finance = admin_client(world.reviewer), admin_client(world.finance)
    # Finance never checks: no invoice left out, no return, no pass on.
    assert offered(finance, claim) == set()
    assert "There is nothing you may do with this claim now." in page(finance, claim)
    claim = to_finance_from_checking(world, claim)
    # The reviewer never approves (they may still reject it); finance approves.
    assert offered(reviewer, claim) == {"reject"}
    assert offered(finance, claim) == {"approve_first"}


def to_finance_from_checking(world: ClaimWorld, claim: Claim) -> Claim:
    claim = services.claim_pass_on(
        actor=actor(world.reviewer), claim=claim, findings="ok", assessor=world.assessor
    )
    return services.claim_assess(
        actor=actor(world.assessor), claim=claim, findings="ok", recommended=claim.claimed_amount
    )


def test_the_official_who_checked_a_claim_is_not_offered_its_approval() -> None:
    world = build(claim_requires_assessment=False)
    both = official(world.district, Role.REVIEWER, Role.FINANCE_OFFICER)
    client = admin_client(both)
    claim = submitted(world, invoices=[(None, "500000.00")])
    took(client, "start_check", claim)
    took(client, "pass_on", claim, findings="ok")
    claim.refresh_from_db()
    assert claim.status == "finance" and not claim.needs_second_approval()
    assert offered(client, claim) == {"reject"}
    assert "You checked this claim; another finance officer approves it." in page(client, claim)
    said = refused(client, "approve", claim)
    assert said.startswith("Only a finance officer of the program")
    assert offered(admin_client(world.finance), claim) == {"approve"}
    assert "is not above ¥200,000.00: one finance officer approves" in page(
        admin_client(world.finance), claim
    )


STEP_DATA: dict[str, Any] = {
    "start_check": lambda c: {},
    "exclude_invoice": lambda c: {"number": counted(c)[0], "reason": "Not ours"},
    "return_for_changes": lambda c: {"reason": "Not ours"},
    "reject": lambda c: {"reason": "Not ours"},
    "pass_on": lambda c: {"findings": "Not ours", "assessor": ""},
    "approve": lambda c: {},
    "record_payment": lambda c: payment("10.00", "X1"),
}


def stage_for(world: ClaimWorld, step: str) -> Claim:
    claim = submitted(world)
    if step == "start_check":
        return claim
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    if step in ("exclude_invoice", "return_for_changes", "reject", "pass_on"):
        return claim
    claim = to_finance_from_checking(world, claim)
    if step == "approve":
        return claim
    return approved(world, claim)


def snapshot(claim: Claim) -> Any:
    return (
        Claim.objects.filter(pk=claim.pk).values().get(),
        list(ClaimedInvoice.objects.filter(claim=claim).values()),
        Payment.objects.count(),
    )


@pytest.mark.parametrize("step", list(STEP_DATA))
def test_each_step_is_refused_to_everyone_who_may_not_take_it(step: str) -> None:
    world = build()
    claim = stage_for(world, step)
    guiyang = District.objects.get(code="520100")
    insiders = {
        "program manager": world.manager,
        "auditor": official(world.district, Role.AUDITOR),
    }
    if step in ("start_check", "exclude_invoice", "return_for_changes", "pass_on"):
        insiders["finance officer"] = world.finance
    if step in ("approve", "record_payment"):
        insiders["reviewer"] = world.reviewer
    outsiders = {
        "reviewer of another district": world.outsider_reviewer,
        "finance officer of another district": world.outsider_finance,
        "manager of another district": official(guiyang, Role.PROGRAM_MANAGER),
    }
    before = snapshot(claim)
    data = STEP_DATA[step](claim)
    for who, user in insiders.items():
        client = admin_client(user)
        assert step_url(step, claim) not in page(client, claim), who
        said = refused(client, step, claim, **data)
        assert said in (
            "You may not do this.",
            "Only a reviewer of the program's district may do this.",
            "Only a finance officer of the program's district who did not check it may approve.",
            f"{claim_step_label(claim, step)} is not possible for you on this claim now.",
        ), (who, said)
    for who, user in outsiders.items():
        client = admin_client(user)
        assert client.get(change_url(claim)).status_code in (302, 404), who
        assert client.post(step_url(step, claim), data).status_code == 404, who
    assert snapshot(claim) == before


def test_people_who_are_not_officials_never_reach_the_claim_admin() -> None:
    world = build()
    claim = submitted(world)
    operator = platform_operator(ComputePlatformFactory())
    document = claim.contract.documents.first()
    urls = [
        change_url(claim),
        reverse("admin:settlements_claim_changelist"),
        reverse("admin:settlements_claim_document", args=[claim.pk, document.pk]),
        reverse("admin:settlements_contract_change", args=[claim.contract_id]),
    ]
    # The claimant, an assessor engaged by the district and a platform operator.
    for user in (world.admin, world.assessor, operator):
        client = client_for(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and "/login/" in response["Location"], url
        response = client.post(step_url("start_check", claim))
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert Claim.objects.get(pk=claim.pk).status == Claim.Status.SUBMITTED


def test_a_button_step_answers_only_a_post() -> None:
    world = build()
    claim = submitted(world)
    response = admin_client(world.reviewer).get(step_url("start_check", claim))
    assert response.status_code == 405


# -- documents ---------------------------------------------------------------------------


def test_documents_are_served_to_the_districts_officials_only() -> None:
    world = build(claim_cap_per_year=None)
    claim = submitted(world)
    document = claim.contract.documents.first()
    url = reverse("admin:settlements_claim_document", args=[claim.pk, document.pk])
    assert url in page(admin_client(world.reviewer), claim)
    for user in (world.reviewer, world.finance, world.manager):
        response = admin_client(user).get(url)
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert {"private", "no-store"} <= set(response["Cache-Control"].split(", "))
        assert b"".join(response.streaming_content).startswith(b"%PDF")
    contract_url = reverse(
        "admin:settlements_contract_document", args=[claim.contract_id, document.pk]
    )
    assert admin_client(world.reviewer).get(contract_url).status_code == 200
    for user in (world.outsider_reviewer, world.outsider_finance):
        assert admin_client(user).get(url).status_code == 404
        assert admin_client(user).get(contract_url).status_code == 404
    # Another contract's document is not reached through this claim.
    other = submitted(world)
    foreign = other.contract.documents.first()
    wrong = reverse("admin:settlements_claim_document", args=[claim.pk, foreign.pk])
    assert admin_client(world.reviewer).get(wrong).status_code == 404


def test_the_contract_page_shows_its_invoices_documents_and_claims() -> None:
    world = build()
    claim = submitted(world, invoices=TWO_INVOICES)
    url = reverse("admin:settlements_contract_change", args=[claim.contract_id])
    html = admin_client(world.reviewer).get(url).content.decode()
    for number in counted(claim):
        assert number in html
    for document in claim.contract.documents.all():
        assert (
            reverse("admin:settlements_contract_document", args=[claim.contract_id, document.pk])
            in html
        )
    assert change_url(claim) in html
    # Rejected, then claimed again: one contract with two claims, one page.
    services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    services.claim_reject(actor=actor(world.reviewer), claim=claim, reason="补充材料后重新申报。")
    again = submitted(world, claim.contract)
    html = admin_client(world.reviewer).get(url).content.decode()
    assert change_url(claim) in html and change_url(again) in html
    changelist = admin_client(world.reviewer).get(reverse("admin:settlements_contract_changelist"))
    assert [c.pk for c in changelist.context["cl"].result_list] == [claim.contract_id]
    # Read-only: no row to add, nothing to save.
    assert 'name="invoices-MAX_NUM_FORMS" value="0"' in html
    assert 'name="_save"' not in html
    assert admin_client(world.outsider_reviewer).get(url).status_code in (302, 404)


# -- the list -----------------------------------------------------------------------------


def test_the_list_shows_the_districts_claims_and_finds_them(
    django_assert_max_num_queries: Any,
) -> None:
    world = build(claim_cap_per_year=None)
    claims = [submitted(world) for _ in range(3)]
    client = admin_client(world.reviewer)
    changelist = reverse("admin:settlements_claim_changelist")
    client.get(changelist)
    with django_assert_max_num_queries(25):
        response = client.get(changelist)
    assert response.status_code == 200
    assert {c.pk for c in response.context["cl"].result_list} == {c.pk for c in claims}
    found = client.get(changelist, {"q": claims[1].contract.number}).context["cl"].result_list
    assert [c.pk for c in found] == [claims[1].pk]
    found = client.get(changelist, {"q": world.enterprise.uscc}).context["cl"].result_list
    assert len(found) == 3
    found = client.get(changelist, {"status__exact": "checking"}).context["cl"].result_list
    assert list(found) == []
    outsider = admin_client(world.outsider_reviewer).get(changelist)
    assert list(outsider.context["cl"].result_list) == []


# -- performance agreements and their receivables ----------------------------------------

TARGETS = [{"kind": "headcount", "target": "20"}]


def agreement_world() -> tuple[ClaimWorld, PerformanceAgreement]:
    """An approved claim whose program requires an agreement; its assessment date has come."""
    world = build(
        claim_requires_assessment=False,
        requires_agreement=True,
        agreement_targets=TARGETS,
        agreement_term_months=12,
        clawback_due_days=30,
    )
    claim = approved(world, to_finance(world, submitted(world, invoices=[(None, "500000.00")])))
    agreement = PerformanceAgreement.objects.get(claim=claim)
    PerformanceAgreement.objects.filter(pk=agreement.pk).update(
        assess_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    agreement.refresh_from_db()
    return world, agreement


def agreement_url(agreement: PerformanceAgreement, step: str = "change") -> str:
    return reverse(f"admin:settlements_performanceagreement_{step}", args=[agreement.pk])


def agreement_page(client: Client, agreement: PerformanceAgreement) -> str:
    response = client.get(agreement_url(agreement))
    assert response.status_code == 200
    return response.content.decode()


def posted(
    client: Client, url: str, back: str, data: dict[str, Any], level: str = "success"
) -> str:
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == back
    shown = messages_after(client, response)
    assert [m.level_tag for m in shown] == [level], shown
    return str(shown[0])


def test_an_agreement_is_assigned_assessed_decided_and_its_clawback_repaid_in_the_admin() -> None:
    from settlements.agreements import agreement_record_assessment

    world, agreement = agreement_world()
    manager, manager_2 = world.manager, official(world.district, Role.PROGRAM_MANAGER)
    first, second = admin_client(manager), admin_client(manager_2)
    back = agreement_url(agreement)

    html = agreement_page(first, agreement)
    assert agreement_url(agreement, "assign") in html
    assert agreement_url(agreement, "decide") not in html
    # Reviewers and finance officers read it; they assign nothing.
    for user in (world.reviewer, world.finance):
        assert agreement_url(agreement, "assign") not in agreement_page(
            admin_client(user), agreement
        )
    form = first.get(agreement_url(agreement, "assign")).content.decode()
    assert world.assessor.email in form
    said = posted(first, agreement_url(agreement, "assign"), back, {"assessor": world.assessor.pk})
    assert said == f"Given to the assessor {world.assessor}."

    agreement_record_assessment(
        actor=actor(world.assessor),
        agreement=agreement,
        measured={"headcount": D("15")},
        report="社保缴纳记录核查：15 人。",
    )
    # The manager who assigned it does not decide it; another one does.
    html = agreement_page(first, agreement)
    assert agreement_url(agreement, "decide") not in html
    assert "You gave it to the assessor; another program manager decides it." in html
    said = posted(first, agreement_url(agreement, "decide"), back, {"note": "x"}, level="error")
    assert said == "Decide the outcome is not possible for you on this agreement now."
    html = agreement_page(second, agreement)
    assert "社保缴纳记录核查：15 人。" in html and "25%" in html
    form = second.get(agreement_url(agreement, "decide")).content.decode()
    assert "Partly met" in form and "¥37,500.00" in form  # 150,000 × 25 %
    said = posted(second, agreement_url(agreement, "decide"), back, {"note": "按比例追回。"})
    assert said == "Decided: Partly met; a clawback of ¥37,500.00 is due."

    agreement.refresh_from_db()
    receivable = agreement.receivable
    assert receivable is not None
    repay_url = reverse(
        "admin:settlements_performanceagreement_receivable_repay", args=[receivable.pk]
    )
    write_off_url = reverse(
        "admin:settlements_performanceagreement_receivable_write_off", args=[receivable.pk]
    )
    receivable_url = reverse(
        "admin:settlements_performanceagreement_receivable", args=[receivable.pk]
    )
    # Finance officers get the forms, on the agreement's page and on the receivable's.
    finance = admin_client(world.finance)
    html = agreement_page(finance, agreement)
    assert repay_url in html and write_off_url in html and receivable_url in html
    assert repay_url not in agreement_page(second, agreement)
    html = finance.get(receivable_url).content.decode()
    assert repay_url in html and agreement_url(agreement) in html
    said = posted(
        finance,
        repay_url,
        receivable_url,
        {"amount": "2500.00", "paid_on": timezone.localdate().isoformat(), "reference": "HK-1"},
    )
    assert said == "Repayment of ¥2,500.00 recorded; ¥35,000.00 is outstanding."
    # Too much is refused beside its field.
    response = finance.post(
        repay_url,
        {"amount": "99999.00", "paid_on": timezone.localdate().isoformat(), "reference": "HK-2"},
    )
    assert response.status_code == 200 and "At most ¥35,000.00 is outstanding." in (
        response.content.decode()
    )
    said = posted(
        admin_client(world.finance_2),
        write_off_url,
        receivable_url,
        {"amount": "35000.00", "reason": "区政府 2026-12 号决定：企业注销。"},
    )
    assert said == "Write-off of ¥35,000.00 recorded; ¥0.00 is outstanding."
    receivable.refresh_from_db()
    assert receivable.status == Receivable.Status.WRITTEN_OFF
    html = finance.get(receivable_url).content.decode()
    assert "HK-1" in html and "Repayment recorded" in html and "Written off" in html
    assert repay_url not in html


def test_agreements_and_receivables_are_refused_to_everyone_else() -> None:
    world, agreement = agreement_world()
    guiyang = District.objects.get(code="520100")
    outsider_manager = official(guiyang, Role.PROGRAM_MANAGER)
    # Insiders without the role: refused with the reason, nothing changes.
    for user in (world.reviewer, world.finance, official(world.district, Role.AUDITOR)):
        client = admin_client(user)
        said = posted(
            client,
            agreement_url(agreement, "assign"),
            agreement_url(agreement),
            {"assessor": world.assessor.pk},
            level="error",
        )
        assert said == "Give to an assessor is not possible for you on this agreement now."
    for user in (outsider_manager, world.outsider_finance):
        client = admin_client(user)
        assert client.get(agreement_url(agreement)).status_code in (302, 404)
        assert client.post(agreement_url(agreement, "assign"), {}).status_code == 404
    agreement.refresh_from_db()
    assert agreement.status == PerformanceAgreement.Status.ACTIVE
    # Not yet due: not even its manager assigns it.
    PerformanceAgreement.objects.filter(pk=agreement.pk).update(
        assess_on=timezone.localdate() + datetime.timedelta(days=30)
    )
    assert agreement_url(agreement, "assign") not in agreement_page(
        admin_client(world.manager), agreement
    )


def test_a_receivable_takes_repayments_only_from_finance_of_its_district() -> None:
    world = build()
    receivable = Receivable.objects.create(
        enterprise=world.enterprise,
        program=world.program,
        amount=D("1000.00"),
        unit="CNY",
        reason="Obligation missed.",
        due_on=timezone.localdate(),
        created_by=world.manager.email,
    )
    url = reverse("admin:settlements_performanceagreement_receivable", args=[receivable.pk])
    repay = reverse("admin:settlements_performanceagreement_receivable_repay", args=[receivable.pk])
    assert admin_client(world.finance).get(url).status_code == 200
    assert repay in admin_client(world.finance).get(url).content.decode()
    assert repay not in admin_client(world.manager).get(url).content.decode()
    data = {"amount": "1.00", "paid_on": timezone.localdate().isoformat(), "reference": "R"}
    said = posted(admin_client(world.reviewer), repay, url, data, level="error")
    assert said == "Record a repayment is not possible for you on this receivable now."
    for user in (world.outsider_finance, world.outsider_reviewer):
        assert admin_client(user).get(url).status_code == 404
        assert admin_client(user).post(repay, data).status_code == 404
    receivable.refresh_from_db()
    assert receivable.repaid_amount == 0


# -- the work queue on the admin's home ---------------------------------------------------


def queue(user: Any) -> dict[str, int]:
    from settlements.queue import settlement_work_queue

    return {item.label: item.count for item in settlement_work_queue(user)}


def test_claims_wait_in_the_queue_of_whoever_takes_the_next_step() -> None:
    world = build()
    claim = submitted(world)
    assert queue(world.reviewer)["Claims submitted, to take up"] == 1
    assert queue(world.finance)["Claims awaiting finance approval"] == 0
    # Another district runs no claims: no lines about them at all.
    assert not any("Claims" in label for label in queue(world.outsider_reviewer))
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    assert queue(world.reviewer)["Claims submitted, to take up"] == 0
    assert (
        queue(world.reviewer)["Claims under the district's check, to pass on, return or reject"]
        == 1
    )
    claim = to_finance_from_checking(world, claim)
    assert queue(world.finance)["Claims awaiting finance approval"] == 1
    claim = services.claim_approve(actor=actor(world.finance), claim=claim)
    # The first approver waits for someone else.
    assert queue(world.finance)["Claims awaiting a second approval"] == 0
    assert queue(world.finance_2)["Claims awaiting a second approval"] == 1
    assert queue(world.finance_2)["Claims awaiting finance approval"] == 0
    services.claim_approve(actor=actor(world.finance_2), claim=claim)
    assert queue(world.finance)["Approved claims not yet paid in full"] == 1
    response = admin_client(world.finance).get("/admin/")
    assert "Approved claims not yet paid in full" in response.content.decode()


def test_agreements_and_overdue_clawbacks_wait_for_managers_and_finance() -> None:
    from settlements.agreements import agreement_assign, agreement_record_assessment

    world, agreement = agreement_world()
    due = "Performance agreements due for assessment, to give to an assessor"
    to_decide = "Assessed performance agreements, to decide"
    assert queue(world.manager)[due] == 1
    assert due not in queue(world.reviewer)
    agreement_assign(actor=actor(world.manager), agreement=agreement, assessor=world.assessor)
    agreement_record_assessment(
        actor=actor(world.assessor), agreement=agreement, measured={"headcount": D("5")}, report="r"
    )
    assert queue(world.manager)[due] == 0
    # The manager who assigned it does not decide it.
    assert queue(world.manager)[to_decide] == 0
    assert queue(official(world.district, Role.PROGRAM_MANAGER))[to_decide] == 1

    overdue = "Clawbacks past their due date, to collect"
    assert overdue not in queue(world.finance)
    Receivable.objects.create(
        enterprise=world.enterprise,
        program=world.program,
        amount=D("100.00"),
        unit="CNY",
        reason="r",
        due_on=timezone.localdate() - datetime.timedelta(days=1),
        created_by="m",
    )
    assert queue(world.finance)[overdue] == 1
    assert overdue not in queue(world.outsider_finance)
    response = admin_client(world.finance).get(
        reverse("admin:vouchers_receivable_changelist"),
        {"status__exact": "open", "due_on__lt": timezone.localdate().isoformat()},
    )
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1
