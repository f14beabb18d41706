"""Input and output serializers of the settlement endpoints of the platform API
(``shared/platform-api.md``, "Settlements (added in v1.1)").

As in :mod:`platforms.serializers`, input serializers check shape and types
strictly (``invoice_amount`` is a decimal string, never a JSON number) and
the services decide the rest; output serializers document the bodies that
:mod:`settlements.api` builds.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from platforms.fields import DecimalStringField
from platforms.serializers import ProgramRefSerializer, StrictCharField

from .models import Settlement, SettlementLine
from .periods import parse_period

#: A signed amount, as ``amount_due`` may be: refunds in a period can
#: outweigh its charges, and the invoice must then match that (zero or less).
SIGNED_AMOUNT_PATTERN = r"^-?[0-9]{1,14}(\.[0-9]{1,2})?$"
#: A settlement period as the contract writes it: a month or a quarter.
PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2]|Q[1-4])$"
STATUSES = [status.value for status in Settlement.Status]
LINE_STATUSES = [status.value for status in SettlementLine.Status]


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": SIGNED_AMOUNT_PATTERN, "example": "120.00"}
)
class InvoiceAmountField(DecimalStringField):
    """The invoice's amount: a decimal string equal to the amount due, which
    may be zero or negative; at most 2 decimal places, as the settlement holds."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(decimal_places=2, max_digits=16, **kwargs)


@extend_schema_field({"type": "string", "pattern": PERIOD_PATTERN, "example": "2026-05"})
class PeriodField(serializers.Field):
    """``2026-05`` (a month) or ``2026-Q2`` (a quarter), as a settlement names its period."""

    default_error_messages = {
        "invalid": _("Give the period as YYYY-MM or YYYY-Qn, such as 2026-05 or 2026-Q2."),
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not data.isascii() or len(data) != 7:
            self.fail("invalid")
        try:
            period = parse_period(data)
        except ValueError:
            # A period that starts or ends outside the calendar (year 0000,
            # 9999-12): no settlement can have it.
            period = None
        if period is None or period.label != data:
            self.fail("invalid")
            raise AssertionError("unreachable: fail() raises")
        return period.label

    def to_representation(self, value: str) -> str:
        return value


class CursorField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("help_text", "From `next` of the previous page.")
        super().__init__(**kwargs)


class SettlementListQuerySerializer(serializers.Serializer):
    period = PeriodField(required=False)
    status = serializers.ChoiceField(choices=STATUSES, required=False)
    cursor = CursorField()
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


class SettlementLinesQuerySerializer(serializers.Serializer):
    cursor = CursorField()
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


class SettlementSubmitRequestSerializer(serializers.Serializer):
    invoice_number = StrictCharField(max_length=100, help_text="Your invoice for this settlement.")
    invoice_amount = InvoiceAmountField(
        help_text='The invoice\'s amount, a decimal string equal to `amount_due` ("120.00").'
    )
    note = StrictCharField(
        max_length=2000, allow_blank=True, default="", help_text="For the district's reviewer."
    )


# -- outputs (documentation of the bodies built in settlements.api) ----------


class SettlementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    program = ProgramRefSerializer()
    period = serializers.CharField(help_text='"2026-05" (a month) or "2026-Q2" (a quarter).')
    status = serializers.ChoiceField(choices=STATUSES)
    lines = serializers.IntegerField(help_text="How many lines it has, rejected ones included.")
    covered = serializers.CharField(help_text="Σ covered of the included lines.")
    reversed = serializers.CharField(help_text="Σ reversed of the included lines.")
    amount_due = serializers.CharField(
        help_text="covered − reversed: what the invoice must be for (may be zero or negative)."
    )
    invoice_number = serializers.CharField(
        allow_null=True, help_text="Of the last submission; null before the first."
    )
    submitted_at = serializers.DateTimeField(allow_null=True)
    approved_amount = serializers.CharField(allow_null=True, help_text="Null until approved.")
    paid_amount = serializers.CharField(help_text="Paid so far.")
    paid_at = serializers.DateTimeField(allow_null=True, help_text="When paid in full.")
    payment_reference = serializers.CharField(
        allow_null=True, help_text="The bank's reference of the last payment; null before one."
    )


class SettlementPageSerializer(serializers.Serializer):
    results = SettlementSerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="The `cursor` of the next page; null on the last one."
    )


class SettlementLineSerializer(serializers.Serializer):
    redemption = serializers.IntegerField(help_text="The charge's id (of a reversal: its charge).")
    voucher = serializers.CharField(help_text="The voucher code.")
    reference = serializers.CharField(help_text="Your reference of the charge or reversal.")
    occurred_at = serializers.DateTimeField(help_text="When the usage happened.")
    covered = serializers.CharField(help_text="A charge's covered amount; 0 on a reversal.")
    reversed = serializers.CharField(help_text="A reversal's amount; 0 on a charge.")
    status = serializers.ChoiceField(choices=LINE_STATUSES)
    rejection_reason = serializers.CharField(
        allow_null=True, help_text="Why the reviewer rejected it; null when included."
    )


class SettlementLinePageSerializer(serializers.Serializer):
    results = SettlementLineSerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="The `cursor` of the next page; null on the last one."
    )
