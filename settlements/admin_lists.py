"""Read-only admin lists of the district's settlement lines and payments (each
settlement's or claim's page shows its own; these are for searching across
them)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.utils.translation import pgettext_lazy

from programs.admin_display import amount_display, yuan
from vouchers.admin import ReadOnlyAdmin

from .admin import settlement_unit
from .models import Payment, SettlementLine

_LINE_COVERED = amount_display(SettlementLine, "covered", unit=settlement_unit)
_LINE_REVERSED = amount_display(SettlementLine, "reversed", unit=settlement_unit)


def payout_unit(obj: Payment) -> str:
    """The unit of what a payment pays: its settlement's, or a claim's (yuan)."""
    return str(obj.payout.unit)


_PAYMENT_AMOUNT = amount_display(Payment, "amount", unit=payout_unit)
_PAYMENT_YUAN = amount_display(Payment, "amount_cny", unit=yuan)


@admin.register(SettlementLine)
class SettlementLineAdmin(ReadOnlyAdmin):
    """Every line of the district's settlements, to search by reference or voucher."""

    list_display = [
        "reference",
        "settlement",
        "line_kind",
        "voucher",
        "occurred_at",
        "recorded_at",
        _LINE_COVERED,
        _LINE_REVERSED,
        "status",
        "rejection_reason",
    ]
    list_filter = ["status", "settlement__period"]
    search_fields = ["reference", "voucher__code"]
    list_select_related = ["settlement__platform", "settlement__program", "voucher"]
    readonly_fields: ClassVar[Any] = (
        *("settlement", "line_kind", "reference", "voucher", "redemption", "reversal"),
        *("occurred_at", "recorded_at", _LINE_COVERED, _LINE_REVERSED, "status"),
        *("rejection_reason", "rejected_by", "rejected_at", "rejection_reversal"),
    )
    fields = readonly_fields

    # The model field's label, "kind", reads 券种 (a program's kind of voucher).
    @admin.display(description=pgettext_lazy("ledger entry", "Type"), ordering="kind")
    def line_kind(self, obj: SettlementLine) -> str:
        return obj.get_kind_display()


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """Payments recorded against the district's settlements and claims (on
    each one's page)."""

    list_display = [
        "paid_on",
        "settlement",
        "claim",
        _PAYMENT_AMOUNT,
        _PAYMENT_YUAN,
        "payer_account",
        "bank_reference",
        "batch",
        "recorded_by",
    ]
    list_filter = ["paid_on", "settlement__program", "settlement__platform"]
    search_fields = [
        "bank_reference",
        "payer_account",
        "settlement__platform__name",
        "claim__enterprise__name",
    ]
    list_select_related = [
        "settlement__platform",
        "settlement__program",
        "claim__enterprise",
        "claim__program",
        "batch",
        "recorded_by",
    ]
    readonly_fields: ClassVar[Any] = (
        *("settlement", "claim", _PAYMENT_AMOUNT, _PAYMENT_YUAN, "paid_on", "payer_account"),
        *("bank_reference", "batch", "recorded_by", "recorded_at"),
    )
    fields = readonly_fields
