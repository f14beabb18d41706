"""The settlements' figures of a program's budget (see :mod:`programs.budget`):
what the district owes its platforms, what finance approved and what was paid."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from programs.budget import register_figure
from programs.models import Program

from .models import Settlement


def owed_amount(program: Program) -> Decimal:
    """Σ amount due of the program's settlements not yet approved."""
    total = (
        Settlement.objects.filter(program=program)
        .exclude(status__in=Settlement.DECIDED)
        .aggregate(total=Sum("amount_due"))["total"]
    )
    return total or Decimal("0")


def approved_amount(program: Program) -> Decimal:
    total = Settlement.objects.filter(program=program, status__in=Settlement.DECIDED).aggregate(
        total=Sum("approved_amount")
    )["total"]
    return total or Decimal("0")


def paid_amount(program: Program) -> Decimal:
    total = Settlement.objects.filter(program=program).aggregate(total=Sum("paid_amount"))["total"]
    return total or Decimal("0")


def register_figures() -> None:
    register_figure("settlement_owed", owed_amount)
    register_figure("settlement_approved", approved_amount)
    register_figure("settlement_paid", paid_amount)
