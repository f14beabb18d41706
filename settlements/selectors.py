"""Reads of settlements: a platform's settlements, one settlement's lines
with their totals per voucher, and its payments (the operators' pages and
the settlement's PDFs)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_fsm import can_proceed, has_transition_perm

from accounts.duties import duties_conflict
from accounts.models import ComputePlatform
from vouchers.models import Receivable

from .models import (
    ZERO,
    Claim,
    Payment,
    PerformanceAgreement,
    Settlement,
    SettlementLine,
    is_finance_officer_of,
)
from .periods import parse_period


def settlements_for_platform(
    *, platform: ComputePlatform, status: str = "", period: str = ""
) -> QuerySet[Settlement]:
    """The settlements of ``platform``, newest period first; with ``status``
    only those in it; with ``period`` ("2026-05" or "2026-Q2") those whose
    period overlaps it, so a month also finds the quarter that holds it.
    An unknown status or period finds nothing."""
    rows = Settlement.objects.filter(platform=platform).select_related(
        "program", "program__district", "platform"
    )
    if status:
        rows = rows.filter(status=status)
    if period:
        wanted = parse_period(period)
        if wanted is None:
            return rows.none()
        start, end = wanted.bounds()
        rows = rows.filter(starts_at__lt=end, ends_at__gt=start)
    return rows.order_by("-starts_at", "program__district__code", "program_id", "pk")


def settlement_get_for_platform(*, platform: ComputePlatform, pk: int) -> Settlement | None:
    """``platform``'s settlement ``pk`` with its program, district and the
    officials who worked it; None for another platform's or an unknown one."""
    return (
        Settlement.objects.filter(platform=platform, pk=pk)
        .select_related(
            "program",
            "program__district",
            "platform",
            "review_started_by",
            "reviewed_by",
            "first_approved_by",
            "approved_by",
        )
        .first()
    )


def period_last_day(settlement: Settlement) -> datetime.date:
    """The last day of the settlement's period (its end is the next period's first instant)."""
    return timezone.localtime(settlement.ends_at).date() - datetime.timedelta(days=1)


def settlement_lines(settlement: Settlement) -> QuerySet[SettlementLine]:
    """The settlement's lines in the order they were recorded, with their vouchers."""
    return (
        SettlementLine.objects.filter(settlement=settlement)
        .select_related("voucher", "voucher__enterprise")
        .order_by("recorded_at", "id")
    )


def settlement_rejected_lines(settlement: Settlement) -> QuerySet[SettlementLine]:
    """The lines the district rejected, each with its reason."""
    return settlement_lines(settlement).filter(status=SettlementLine.Status.REJECTED)


@dataclass(frozen=True)
class VoucherTotals:
    """One voucher's share of a settlement.

    ``covered`` and ``reversed`` are the included lines' (as the settlement's
    own totals); ``rejected`` is what the district's rejected charges covered,
    which is no longer owed. ``net`` is what the voucher adds to the amount due.
    """

    code: str
    enterprise: str
    charges: int
    covered: Decimal
    reversed: Decimal
    rejected: Decimal

    @property
    def net(self) -> Decimal:
        return self.covered - self.reversed


def settlement_voucher_totals(settlement: Settlement) -> list[VoucherTotals]:
    """The settlement's lines summed per voucher, by voucher code (one query)."""
    zero = Value(ZERO, output_field=DecimalField(max_digits=18, decimal_places=2))
    included = Q(status=SettlementLine.Status.INCLUDED)
    rows = (
        SettlementLine.objects.filter(settlement=settlement)
        .values("voucher__code", "voucher__enterprise__name")
        .annotate(
            charge_count=Count("id", filter=Q(kind=SettlementLine.Kind.CAPTURE)),
            covered_sum=Coalesce(Sum("covered", filter=included), zero),
            reversed_sum=Coalesce(Sum("reversed", filter=included), zero),
            rejected_sum=Coalesce(
                Sum("covered", filter=Q(status=SettlementLine.Status.REJECTED)), zero
            ),
        )
        .order_by("voucher__code")
    )
    return [
        VoucherTotals(
            code=row["voucher__code"],
            enterprise=row["voucher__enterprise__name"],
            charges=row["charge_count"],
            covered=row["covered_sum"],
            reversed=row["reversed_sum"],
            rejected=row["rejected_sum"],
        )
        for row in rows
    ]


def settlement_payments(settlement: Settlement) -> QuerySet[Payment]:
    """The payments made against the settlement, oldest first."""
    return Payment.objects.filter(settlement=settlement).order_by("paid_on", "id")


def payment_get_for_platform(
    *, platform: ComputePlatform, settlement_pk: int, pk: int
) -> Payment | None:
    """Payment ``pk`` of ``platform``'s settlement ``settlement_pk``, with the
    payee's details as the treasury batch recorded them (when it came from one)."""
    return (
        Payment.objects.filter(pk=pk, settlement_id=settlement_pk, settlement__platform=platform)
        .select_related(
            "settlement",
            "settlement__program",
            "settlement__program__district",
            "settlement__platform",
            "batch_item",
        )
        .first()
    )


def paid_through(payment: Payment) -> Decimal:
    """What was paid against the payment's settlement or claim up to and
    including ``payment`` (payments in the order of their dates, then of
    their records)."""
    earlier = Q(paid_on__lt=payment.paid_on) | Q(paid_on=payment.paid_on, pk__lte=payment.pk)
    same_payout = (
        Q(settlement_id=payment.settlement_id)
        if payment.settlement_id is not None
        else Q(claim_id=payment.claim_id)
    )
    total: Any = (
        Payment.objects.filter(same_payout).filter(earlier).aggregate(total=Sum("amount"))["total"]
    )
    return total or ZERO


def settlement_steps(settlement: Settlement, user: Any) -> list[str]:
    """The steps ``user`` may take on ``settlement`` now, as the model answers
    them (its role predicates and its transitions' conditions and permissions);
    the services ask the same again when the step is taken."""

    def allowed(transition: Any) -> bool:
        return transition_allowed(transition, user)

    steps = []
    if settlement.may_review(user) and can_proceed(settlement.start_review):
        steps.append("start_review")
    may_pass_on = allowed(settlement.pass_on)
    if may_pass_on:
        # Lines are rejected while the reviewer may still pass the settlement on.
        steps.append("reject_line")
    if allowed(settlement.return_for_changes):
        steps.append("return_for_changes")
    if may_pass_on:
        steps.append("pass_on")
    approval = settlement.approval_step()
    if allowed(getattr(settlement, approval)):
        steps.append(approval)
    if settlement.may_pay(user) and settlement.takes_manual_payment():
        steps.append("record_payment")
    return steps


# --- What an official may do now (the admin offers these; the services ask again)


def transition_allowed(transition: Any, user: Any) -> bool:
    """The transition is possible now and ``user`` may take it (the model says both)."""
    return bool(can_proceed(transition) and has_transition_perm(transition, user))


def claim_steps(claim: Claim, user: Any) -> list[str]:
    """The steps ``user`` may take on ``claim`` now, as the model answers them;
    the services ask the same again (and the separation of duties) when taken."""
    conflict = duties_conflict(user=user, enterprise_id=claim.enterprise_id)
    steps = []
    if transition_allowed(claim.start_check, user) and not conflict:
        steps.append("start_check")
    if (
        claim.status == Claim.Status.CHECKING
        and claim.may_review(user)
        and claim.claimed_invoices.filter(excluded=False).exists()
    ):
        steps.append("exclude_invoice")
    if transition_allowed(claim.return_for_changes, user):
        steps.append("return_for_changes")
    if transition_allowed(claim.pass_to_assessor, user) or transition_allowed(
        claim.pass_to_finance, user
    ):
        steps.append("pass_on")
    if transition_allowed(claim.reject, user):
        steps.append("reject")
    approval = claim.approval_step()
    if transition_allowed(getattr(claim, approval), user) and not conflict:
        steps.append(approval)
    if claim.may_pay(user) and claim.takes_manual_payment():
        steps.append("record_payment")
    return steps


def agreement_steps(agreement: PerformanceAgreement, user: Any) -> list[str]:
    """Give to an assessor (a program manager, once the assessment date has
    come) and decide (a program manager other than the one who assigned it)."""
    from .agreements import agreements_due

    if duties_conflict(user=user, enterprise_id=agreement.enterprise_id):
        return []
    steps = []
    if (
        transition_allowed(agreement.assign, user)
        and agreements_due().filter(pk=agreement.pk).exists()
    ):
        steps.append("assign")
    if transition_allowed(agreement.decide, user):
        steps.append("decide")
    return steps


def receivable_steps(receivable: Receivable | None, user: Any) -> list[str]:
    """Repayments and write-offs: a finance officer of the program's district,
    while something is outstanding. The write-off service also refuses the
    officials who raised or decided the clawback, with its reason."""
    if receivable is None or receivable.status != Receivable.Status.OPEN:
        return []
    if not is_finance_officer_of(user, receivable.program.district_id):
        return []
    if duties_conflict(user=user, enterprise_id=receivable.enterprise_id):
        return []
    return ["repay", "write_off"]
