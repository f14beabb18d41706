"""The applications' figures of a program's budget (see :mod:`programs.budget`)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from programs.budget import register_figure
from programs.models import Program

from .models import Application

PENDING = [
    Application.Status.SUBMITTED,
    Application.Status.UNDER_REVIEW,
    Application.Status.AWAITING_SECOND_APPROVAL,
]


def pending_amount(program: Program) -> Decimal:
    """What the program's applications waiting for a decision ask for."""
    total = Application.objects.filter(program=program, status__in=PENDING).aggregate(
        total=Sum("requested_amount")
    )["total"]
    return total or Decimal("0")


def approved_count(program: Program) -> int:
    return Application.objects.filter(program=program, status=Application.Status.APPROVED).count()


def register_figures() -> None:
    register_figure("pending_amount", pending_amount)
    register_figure("approved_count", approved_count)
