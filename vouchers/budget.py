"""The vouchers' figure of a program's budget (see :mod:`programs.budget`)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

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


def register_figures() -> None:
    register_figure("redeemed", redeemed)
