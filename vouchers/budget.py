"""The vouchers' figure of a program's budget (see :mod:`programs.budget`)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from programs.budget import register_figure
from programs.models import Program

from .models import Redemption


def redeemed(program: Program) -> Decimal:
    """What platforms charged to the program's vouchers, net of reversals,
    summed from the redemptions (never a counter on the program)."""
    charged = Redemption.objects.filter(voucher__program=program).aggregate(
        covered=Sum("covered"), reversed=Sum("reversed_amount")
    )
    return (charged["covered"] or Decimal("0")) - (charged["reversed"] or Decimal("0"))


def covered_by_month(program: Program) -> dict[datetime.date, Decimal]:
    """What platforms charged to the program's vouchers per calendar month
    (China time, by the moment of the charge), net of reversals; the months
    add up to :func:`redeemed`."""
    tz = timezone.get_default_timezone()
    rows = (
        Redemption.objects.filter(voucher__program=program)
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month")
        .annotate(covered=Sum("covered"), reversed=Sum("reversed_amount"))
        .order_by()
    )
    result: dict[datetime.date, Decimal] = {}
    for row in rows:
        month = row["month"]
        if isinstance(month, datetime.datetime):
            month = (
                timezone.localtime(month, tz).date() if timezone.is_aware(month) else month.date()
            )
        result[month] = (row["covered"] or Decimal("0")) - (row["reversed"] or Decimal("0"))
    return result


def register_figures() -> None:
    register_figure("redeemed", redeemed)
    register_figure("covered_by_month", covered_by_month)
