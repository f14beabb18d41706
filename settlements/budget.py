"""The settlements' figures of a program's budget (see :mod:`programs.budget`):
what the district owes its platforms, what finance approved and what was paid."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q, Sum

from programs.budget import register_figure
from programs.models import Program

from .models import Claim, Settlement


def settlement_figures(program: Program) -> dict[str, Decimal]:
    """Owed (amount due of settlements not yet approved), approved and paid,
    in one query (none for a program that does not pay through platforms)."""
    if program.payout_mode != Program.PayoutMode.DEDUCT_AT_PLATFORM:
        return {}
    decided = Q(status__in=Settlement.DECIDED)
    totals = Settlement.objects.filter(program=program).aggregate(
        owed=Sum("amount_due", filter=~decided),
        approved=Sum("approved_amount", filter=decided),
        paid=Sum("paid_amount"),
    )
    return {name: totals[name] or Decimal("0") for name in ("owed", "approved", "paid")}


def claim_figures(program: Program) -> dict[str, Decimal]:
    """Claimed (live, undecided), approved and paid, in one query (none for a
    program that pays through platforms: it takes no claims)."""
    if program.payout_mode == Program.PayoutMode.DEDUCT_AT_PLATFORM:
        return {}
    # A redemption draws on a contract voucher: its money is the voucher's.
    rows = Claim.objects.filter(program=program).exclude(stage=Claim.Stage.REDEMPTION)
    totals = rows.aggregate(
        pending=Sum(
            "claimed_amount",
            filter=Q(status__in=[s for s in Claim.LIVE if s not in Claim.DECIDED]),
        ),
        approved=Sum("approved_amount", filter=Q(status__in=Claim.DECIDED)),
        paid=Sum("paid_amount"),
    )
    return {name: totals[name] or Decimal("0") for name in ("pending", "approved", "paid")}


def register_figures() -> None:
    register_figure("settlements", settlement_figures)
    register_figure("claims", claim_figures)
