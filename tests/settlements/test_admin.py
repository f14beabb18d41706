"""The officials' settlement pages in the admin: a settlement walked through
every state from the admin (review, a rejected line, a return, approval with
and without four eyes, payment in parts), the steps offered only to whoever
may take them now, and each step refused to everyone else."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import District, Membership
from audit.models import AuditEvent
from settlements.admin import STEP_LABELS
from settlements.models import Payment, Settlement, SettlementLine
from settlements.payments import payment_batch_create
from settlements.services import (
    settlement_approve,
    settlement_pass_on,
    settlement_start_review,
    settlement_submit,
)
from tests.settlements.factories import (
    SettleWorld,
    actor,
    build,
    charge,
    drawn,
    last_month_instant,
)
from tests.vouchers.factories import client_for, member, official, platform_actor, with_mfa
from vouchers.ledger import ledger_differences
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db
Role = Membership.Role


def admin_client(user: Any) -> Client:
    """An official signed in to the admin (officials need TOTP to enter it)."""
    return client_for(with_mfa(user))


def step_url(step: str, settlement: Settlement) -> str:
    return reverse(f"admin:settlements_settlement_{step}", args=[settlement.pk])


def change_url(settlement: Settlement) -> str:
    return reverse("admin:settlements_settlement_change", args=[settlement.pk])


def took(client: Client, step: str, settlement: Settlement, **data: Any) -> str:
    """POST a step that must be taken: back to the settlement's page, saying what was done."""
    response = client.post(step_url(step, settlement), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == change_url(settlement)
    shown = list(get_messages(client.get(response["Location"]).wsgi_request))
    assert [m.level_tag for m in shown] == ["success"], shown
    return str(shown[0])


def refused(client: Client, step: str, settlement: Settlement, **data: Any) -> str:
    """POST a step that must be refused: back to the settlement's page with one error."""
    response = client.post(step_url(step, settlement), data)
    assert response.status_code == 302
    assert response["Location"] == change_url(settlement)
    shown = list(get_messages(client.get(response["Location"]).wsgi_request))
    assert [m.level_tag for m in shown] == ["error"], shown
    return str(shown[0])


def page(client: Client, settlement: Settlement, **query: Any) -> str:
    response = client.get(change_url(settlement), query)
    assert response.status_code == 200
    return response.content.decode()


def submit(world: SettleWorld, settlement: Settlement, number: str = "INV-1") -> Settlement:
    settlement.refresh_from_db()
    return settlement_submit(
        actor=platform_actor(world.platform),
        platform=world.platform,
        settlement_id=settlement.pk,
        invoice_number=number,
        invoice_amount=settlement.amount_due,
    )


def balance(voucher: Voucher) -> Decimal:
    return Voucher.objects.get(pk=voucher.pk).balance


def payment(amount: str, reference: str, paid_on: Any = None) -> dict[str, Any]:
    return {
        "amount": amount,
        "paid_on": (paid_on or timezone.localdate()).isoformat(),
        "payer_account": "JH-FIN-01",
        "bank_reference": reference,
    }


def test_a_settlement_goes_through_every_state_from_the_admin() -> None:
    world = build()
    at = last_month_instant()
    charge(world, billed="1000", reference="inv-good", at=at)
    bad = charge(world, billed="2000", reference="inv-bad", at=at + datetime.timedelta(hours=1))
    settlement = submit(world, drawn(world))
    reviewer, finance = admin_client(world.reviewer), admin_client(world.finance)

    html = page(reviewer, settlement)
    assert step_url("start_review", settlement) in html
    assert step_url("approve", settlement) not in html
    said = took(reviewer, "start_review", settlement)
    assert said == "Review started: reject any line with its reason, then pass it on."
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.UNDER_REVIEW
    assert settlement.review_started_by == world.reviewer

    # A line is rejected with a reason: its charge goes back to the voucher.
    line = SettlementLine.objects.get(settlement=settlement, redemption_id=bad.id)
    html = page(reviewer, settlement)
    assert f"{step_url('reject_line', settlement)}?line={line.pk}" in html
    assert step_url("return_for_changes", settlement) in html
    assert step_url("pass_on", settlement) in html
    form = reviewer.get(step_url("reject_line", settlement), {"line": line.pk})
    assert form.status_code == 200 and "inv-bad" in form.content.decode()
    response = reviewer.post(step_url("reject_line", settlement), {"line": line.pk, "reason": " "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    before = balance(world.voucher)
    said = took(reviewer, "reject_line", settlement, line=line.pk, reason="No such job")
    assert said == f"Line inv-bad rejected: ¥600.00 went back to voucher {world.voucher.code}."
    line.refresh_from_db()
    assert (line.status, line.rejection_reason) == ("rejected", "No such job")
    assert balance(world.voucher) == before + Decimal("600.00")
    assert ledger_differences() == []
    settlement.refresh_from_db()
    assert settlement.amount_due == Decimal("300.00")
    assert "No such job" in page(reviewer, settlement)

    # Returned with a reason; the platform resubmits it.
    said = took(reviewer, "return_for_changes", settlement, reason="Invoice unreadable")
    assert said == "Returned to the platform for changes."
    settlement.refresh_from_db()
    assert (settlement.status, settlement.return_reason) == ("returned", "Invoice unreadable")
    settlement = submit(world, settlement, number="INV-1b")
    took(reviewer, "start_review", settlement)
    assert took(reviewer, "pass_on", settlement) == "Passed on to finance for approval."
    settlement.refresh_from_db()
    assert settlement.reviewed_by == world.reviewer

    # The reviewer is offered no approval, and is refused one.
    assert step_url("approve", settlement) not in page(reviewer, settlement)
    assert refused(reviewer, "approve", settlement) == (
        "Only a finance officer of the program's district who did not review it may approve."
    )
    html = page(finance, settlement)
    assert step_url("approve", settlement) in html and ">Approve<" not in html  # an input
    assert took(finance, "approve", settlement) == "Approved: ¥300.00."
    settlement.refresh_from_db()
    assert (settlement.status, settlement.approved_amount) == ("approved", Decimal("300.00"))

    # Paid in two parts.
    assert step_url("record_payment", settlement) in page(finance, settlement)
    form = finance.get(step_url("record_payment", settlement))
    assert form.status_code == 200 and "¥300.00" in form.content.decode()
    said = took(finance, "record_payment", settlement, **payment("100.00", "B1"))
    assert said == "Payment of ¥100.00 recorded; ¥200.00 is still to pay."
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.APPROVED
    said = took(finance, "record_payment", settlement, **payment("200.00", "B2"))
    assert said == "Payment of ¥200.00 recorded: the settlement is paid in full."
    settlement.refresh_from_db()
    assert (settlement.status, settlement.paid_amount) == ("paid", Decimal("300.00"))
    assert list(Payment.objects.filter(settlement=settlement).values_list("recorded_by", flat=True))
    assert step_url("record_payment", settlement) not in page(finance, settlement)

    # The page tells the whole story.
    html = page(finance, settlement)
    for text in (
        "INV-1b",
        "Paid in full.",
        "Invoice unreadable",
        "No such job",
        "B1",
        "B2",
        "Passed on to finance",
        world.reviewer.email,
        world.finance.email,
        "There is nothing you may do with this settlement now.",
    ):
        assert text in html, text
    kinds = list(
        AuditEvent.objects.filter(
            object_type="settlements.settlement", object_id=str(settlement.pk)
        )
        .order_by("id")
        .values_list("event_type", "actor_user")
    )
    assert [k for k, _user in kinds] == [
        "settlement.drawn",
        "settlement.submitted",
        "settlement.review_started",
        "settlement.line_rejected",
        "settlement.returned",
        "settlement.submitted",
        "settlement.review_started",
        "settlement.passed_to_finance",
        "settlement.approved",
        "settlement.payment_recorded",
        "settlement.payment_recorded",
        "settlement.paid",
    ]


def passed_on(world: SettleWorld, billed: str = "1000") -> Settlement:
    charge(world, billed=billed, reference="inv-1", at=last_month_instant())
    settlement = submit(world, drawn(world))
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    return settlement_pass_on(actor=actor(world.reviewer), settlement=settlement)


def test_above_the_threshold_two_different_finance_officers_approve_in_the_admin() -> None:
    world = build(threshold=Decimal("100.00"))
    settlement = passed_on(world)
    first, second = admin_client(world.finance), admin_client(world.finance_2)
    html = page(first, settlement)
    assert "Approve (first of two approvals)" in html
    assert "a second, different finance officer must confirm the approval" in html
    said = took(first, "approve", settlement)
    assert said == "First approval recorded: another finance officer must confirm it."
    settlement.refresh_from_db()
    assert (settlement.status, settlement.first_approved_by) == ("under_review", world.finance)

    # The same officer is offered nothing more, and is refused a second time.
    html = page(first, settlement)
    assert step_url("approve", settlement) not in html
    assert "You gave the first approval; another finance officer must confirm it." in html
    assert (
        refused(first, "approve", settlement)
        == "The second approval must come from another finance officer."
    )
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.UNDER_REVIEW

    assert "Confirm the approval (second finance officer)" in page(second, settlement)
    assert took(second, "approve", settlement) == "Approved: ¥300.00."
    settlement.refresh_from_db()
    assert (settlement.status, settlement.approved_by) == ("approved", world.finance_2)


# -- who may not ---------------------------------------------------------------------

STEP_DATA: dict[str, Any] = {
    "start_review": lambda s: {},
    "reject_line": lambda s: {"line": s.lines.first().pk, "reason": "Not ours"},
    "return_for_changes": lambda s: {"reason": "Not ours"},
    "pass_on": lambda s: {},
    "approve": lambda s: {},
    "record_payment": lambda s: payment("10.00", "X1"),
}


def at_stage(world: SettleWorld, step: str) -> Settlement:
    """The world's settlement where ``step`` is the next one to take."""
    charge(world, billed="1000", reference="inv-1", at=last_month_instant())
    settlement = submit(world, drawn(world))
    if step == "start_review":
        return settlement
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    if step in ("reject_line", "return_for_changes", "pass_on"):
        return settlement
    settlement = settlement_pass_on(actor=actor(world.reviewer), settlement=settlement)
    if step == "approve":
        return settlement
    return settlement_approve(actor=actor(world.finance), settlement=settlement)


def snapshot(settlement: Settlement) -> Any:
    return (
        Settlement.objects.filter(pk=settlement.pk).values().get(),
        list(SettlementLine.objects.filter(settlement=settlement).values()),
        Payment.objects.count(),
        list(Voucher.objects.values_list("pk", "balance")),
    )


@pytest.mark.parametrize("step", list(STEP_DATA))
def test_each_step_is_refused_to_everyone_who_may_not_take_it(step: str) -> None:
    world = build()
    settlement = at_stage(world, step)
    guiyang = District.objects.get(code="520100")
    jianghan = world.program.district
    # Within the district: refused with the reason, the page offers nothing.
    insiders = {
        "program manager": world.manager,
        "auditor": official(jianghan, Role.AUDITOR),
    }
    if step == "approve":
        insiders["reviewer who passed it on"] = world.reviewer
    if step in ("start_review", "reject_line", "return_for_changes", "pass_on"):
        insiders["finance officer"] = world.finance
    if step == "record_payment":
        insiders["reviewer"] = world.reviewer
    # Another district's officials do not even find it.
    outsiders = {
        "reviewer of another district": official(guiyang, Role.REVIEWER),
        "finance officer of another district": world.outsider_finance,
    }
    before = snapshot(settlement)
    data = STEP_DATA[step](settlement)
    for who, user in insiders.items():
        client = admin_client(user)
        html = page(client, settlement)
        assert step_url(step, settlement) not in html, who
        assert "There is nothing you may do with this settlement now." in html, who
        said = refused(client, step, settlement, **data)
        assert said in (
            "You may not do this.",
            "Only a finance officer of the program's district who did not review it may approve.",
            f"{STEP_LABELS[step]} is not possible for you on this settlement now.",
        ), (who, said)
    for who, user in outsiders.items():
        client = admin_client(user)
        assert client.get(change_url(settlement)).status_code in (302, 404), who
        response = client.post(step_url(step, settlement), data)
        assert response.status_code == 404, who
    assert snapshot(settlement) == before


def test_a_platform_operator_and_an_enterprise_never_reach_the_settlement_admin() -> None:
    world = build()
    settlement = at_stage(world, "start_review")
    for user in (world.operator, member(world.voucher.enterprise)):
        client = client_for(user)
        for url in (change_url(settlement), step_url("start_review", settlement)):
            response = client.post(url) if "start-review" in url else client.get(url)
            assert response.status_code == 302 and "/login/" in response["Location"]
    assert Settlement.objects.get(pk=settlement.pk).status == Settlement.Status.SUBMITTED


def test_a_button_step_answers_only_a_post() -> None:
    world = build()
    settlement = at_stage(world, "start_review")
    response = admin_client(world.reviewer).get(step_url("start_review", settlement))
    assert response.status_code == 405


# -- the lists -----------------------------------------------------------------------


def test_the_lists_show_the_districts_officials_their_settlements_lines_and_payments(
    django_assert_max_num_queries: Any,
) -> None:
    world = build()
    settlement = at_stage(world, "record_payment")
    took(admin_client(world.finance), "record_payment", settlement, **payment("10.00", "P-1"))
    lists = {
        "settlements_settlement": "INV-1",
        "settlements_settlementline": "inv-1",
        "settlements_payment": "P-1",
    }
    for user in (
        world.reviewer,
        world.finance,
        world.manager,
        official(world.program.district, Role.AUDITOR),
    ):
        client = admin_client(user)
        for name in lists:
            with django_assert_max_num_queries(20):
                response = client.get(reverse(f"admin:{name}_changelist"))
            assert response.status_code == 200 and response.context["cl"].result_count == 1, name
    outsider = admin_client(world.outsider_finance)
    for name in lists:
        response = outsider.get(reverse(f"admin:{name}_changelist"))
        assert response.status_code == 200 and response.context["cl"].result_count == 0, name


def test_a_long_settlements_lines_come_in_pages(django_assert_max_num_queries: Any) -> None:
    world = build()
    at = last_month_instant()
    for n in range(53):
        charge(world, billed="10", reference=f"inv-{n:03d}", at=at + datetime.timedelta(minutes=n))
    settlement = submit(world, drawn(world))
    client = admin_client(world.reviewer)
    # The same few queries whatever the number of lines (17 when this was written).
    with django_assert_max_num_queries(20):
        first = page(client, settlement)
    assert "inv-049" in first and "inv-050" not in first
    assert "Lines 1–50 of 53" in first and "?lines=2#lines" in first
    second = page(client, settlement, lines=2)
    assert "inv-050" in second and "inv-049" not in second
    assert "53 lines" in second


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("amount", "abc", "Enter a number."),
        ("amount", "-5", "Ensure this value is greater than or equal to 0.01."),
        ("amount", "1e400", "Ensure that there are no more than 16 digits in total."),
        ("amount", "300.01", "At most ¥300.00 of this settlement is still to be paid."),
        ("paid_on", "2026-02-30", "Enter a valid date."),
        ("paid_on", "2999-01-01", "A payment date cannot be in the future."),
        ("bank_reference", "", "This field is required."),
        ("payer_account", "x" * 101, "Ensure this value has at most 100 characters"),
    ],
)
def test_a_bad_payment_is_refused_beside_its_field_without_a_trace(
    field: str, value: str, error: str
) -> None:
    world = build()
    settlement = at_stage(world, "record_payment")
    before = snapshot(settlement)
    data = {**payment("100.00", "B1"), field: value}
    client = admin_client(world.finance)
    response = client.post(step_url("record_payment", settlement), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert snapshot(settlement) == before


def test_a_settlement_in_a_batch_sent_to_the_treasury_takes_no_payment_by_hand() -> None:
    world = build()
    settlement = at_stage(world, "record_payment")
    world.platform.bank_account_name = "Platform Ltd."
    world.platform.bank_name = "Bank of Wuhan"
    world.platform.bank_account_number = "6222000011112222"
    world.platform.save()
    payment_batch_create(
        actor=actor(world.finance), district=world.program.district, payer_account="JH-FIN-01"
    )
    before = snapshot(settlement)
    client = admin_client(world.finance)
    # Not offered, and refused when posted all the same (the service's own
    # refusal is tests/settlements/test_payments.py's).
    assert step_url("record_payment", settlement) not in page(client, settlement)
    said = refused(client, "record_payment", settlement, **payment("10.00", "X1"))
    assert said == "Record a payment is not possible for you on this settlement now."
    assert snapshot(settlement) == before
