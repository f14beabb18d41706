"""Input and output serializers of the redemption API (``shared/platform-api.md``).

Input serializers only check shape and types — strictly: amounts are decimal
strings, token counts and ``expires_in`` JSON integers, ``allow_partial`` a
JSON boolean, ``occurred_at`` an ISO 8601 time with its UTC offset. Whether
the voucher can pay is the voucher services' business. Output serializers
exist for the OpenAPI document: the bodies themselves are the services'
``as_dict()``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .fields import CNYAmountField, DecimalStringField

MAX_BATCH_RECORDS = 1000
MAX_USAGE_LINES = 1000
MAX_UTC_OFFSET = datetime.timedelta(hours=14)
# The times a request may name: the representable range less a day at each
# end, so that the time exists in every time zone it may be converted to.
EARLIEST_TIME = datetime.datetime.min.replace(tzinfo=datetime.UTC) + datetime.timedelta(days=1)
LATEST_TIME = datetime.datetime.max.replace(tzinfo=datetime.UTC) - datetime.timedelta(days=1)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: no strings, no floats, no booleans."""

    default_error_messages = {"not_an_integer": _("A whole number (a JSON integer) is required.")}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``, nothing that merely looks like one."""

    default_error_messages = {"not_a_boolean": _("true or false (a JSON boolean) is required.")}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("not_a_boolean")
        return data


class StrictCharField(serializers.CharField):
    """A JSON string: a number is not silently turned into text."""

    default_error_messages = {"not_a_string": _("A text value (a JSON string) is required.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.DATETIME)
class OccurredAtField(serializers.Field):
    """An ISO 8601 date and time with a UTC offset (``2026-05-01T10:00:00+08:00``)."""

    default_error_messages = {
        "invalid": _("Give an ISO 8601 time with a UTC offset, such as 2026-05-01T10:00:00+08:00."),
        "out_of_range": _("This time is outside the range of dates the service accepts."),
    }

    def to_internal_value(self, data: Any) -> datetime.datetime:
        if not isinstance(data, str) or len(data) > 64:
            self.fail("invalid")
        try:
            parsed = parse_datetime(data)
        except ValueError:
            parsed = None
        offset = parsed.utcoffset() if parsed is not None else None
        # Real offsets lie within ±14 h; anything else is a malformed time
        # (and PostgreSQL would refuse to store it).
        if parsed is None or offset is None or abs(offset) > MAX_UTC_OFFSET:
            self.fail("invalid")
            raise AssertionError("unreachable: fail() raises")
        # A time at the very ends of the calendar (0001-01-01T00:00:00+14:00)
        # has no UTC equivalent, and one a day from them none in every zone
        # it is later shown in (Asia/Shanghai): refused as out of range, not
        # left to overflow in a conversion.
        try:
            moment = parsed.astimezone(datetime.UTC)
        except OverflowError:
            moment = None
        if moment is None or not EARLIEST_TIME <= moment <= LATEST_TIME:
            self.fail("out_of_range")
            raise AssertionError("unreachable: fail() raises")
        return moment

    def to_representation(self, value: datetime.datetime) -> str:
        return value.isoformat()


class UsageLineSerializer(serializers.Serializer):
    """One usage line: tokens of one model, as the platform's catalog names it."""

    model = StrictCharField(max_length=200, help_text="The model id in the platform's catalog.")
    input_tokens = StrictIntegerField(min_value=0, max_value=10**12, default=0)
    output_tokens = StrictIntegerField(min_value=0, max_value=10**12, default=0)


class ChargeSerializer(serializers.Serializer):
    """A charge: the body of ``POST holds/{id}/capture`` (a redemption without ``voucher``)."""

    reference = StrictCharField(
        max_length=255, help_text="Your own id for this charge (invoice or job id)."
    )
    occurred_at = OccurredAtField(help_text="When the usage happened; decides the rate in force.")
    billed_amount = CNYAmountField(
        required=False, help_text='The bill in yuan, a decimal string ("120.00").'
    )
    currency = serializers.ChoiceField(choices=["CNY"], required=False)
    usage = serializers.ListField(
        child=UsageLineSerializer(),
        required=False,
        max_length=MAX_USAGE_LINES,
        help_text="Usage lines by model: required for POINTS vouchers, evidence otherwise.",
    )
    allow_partial = StrictBooleanField(
        default=True, help_text="false: refuse (insufficient_balance) rather than cover part."
    )


class RedemptionRequestSerializer(ChargeSerializer):
    """The body of ``POST redemptions`` and of each usage-batch record."""

    voucher = StrictCharField(max_length=64, help_text="The voucher code.")


class HoldRequestSerializer(serializers.Serializer):
    voucher = StrictCharField(max_length=64)
    reference = StrictCharField(max_length=255)
    amount = DecimalStringField(help_text="In the voucher's unit: yuan or whole points.")
    expires_in = StrictIntegerField(
        min_value=1, max_value=86400, default=3600, help_text="Seconds; at most 86400."
    )


class ReversalRequestSerializer(serializers.Serializer):
    amount = DecimalStringField(help_text="In the voucher's unit; never more than is left.")
    reason = StrictCharField(max_length=2000, allow_blank=True, default="")
    reference = StrictCharField(max_length=255)


class ParsedJSONField(serializers.JSONField):
    """Any JSON value of a body already parsed as JSON, taken as it is.

    ``JSONField`` checks a value by encoding it again (``json.dumps``):
    for a usage batch that was one encoding per record, of values that came
    out of the JSON parser and so always encode. Each record is checked on
    its own afterwards (``platforms.usage``)."""

    def to_internal_value(self, data: Any) -> Any:
        return data


class UsageBatchRequestSerializer(serializers.Serializer):
    records = serializers.ListField(
        # A null record is a record like any other: rejected alone, in its place.
        child=ParsedJSONField(allow_null=True),
        min_length=1,
        max_length=MAX_BATCH_RECORDS,
        help_text="Up to 1,000 redemption bodies; each stands or falls alone.",
    )


class RedemptionListQuerySerializer(serializers.Serializer):
    since = OccurredAtField(required=False)
    voucher = serializers.CharField(required=False, max_length=64)
    cursor = serializers.CharField(required=False, max_length=200)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


# -- outputs (documentation of the bodies built by the services) ------------


class ProgramRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    district = serializers.CharField()


class EnterpriseRefSerializer(serializers.Serializer):
    name = serializers.CharField()


class VoucherSerializer(serializers.Serializer):
    code = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["issued", "active", "suspended", "exhausted", "expired", "revoked", "clawed_back"]
    )
    unit = serializers.ChoiceField(choices=["CNY", "POINTS"])
    balance = serializers.CharField(help_text="Available now (held amounts excluded).")
    held = serializers.CharField()
    face_value = serializers.CharField()
    program = ProgramRefSerializer()
    enterprise = EnterpriseRefSerializer()
    rate_in_force = serializers.CharField(help_text='Share of a bill covered today ("0.3").')
    valid_from = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class RedemptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    voucher = serializers.CharField()
    reference = serializers.CharField()
    status = serializers.CharField(help_text='"captured" when made.')
    unit = serializers.ChoiceField(choices=["CNY", "POINTS"])
    billed_amount = serializers.CharField(allow_null=True)
    rate_applied = serializers.CharField(allow_null=True)
    covered = serializers.CharField()
    payable_by_enterprise = serializers.CharField(allow_null=True)
    points_used = serializers.IntegerField(allow_null=True)
    balance_after = serializers.CharField()
    replayed = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class RedemptionListItemSerializer(RedemptionSerializer):
    occurred_at = serializers.DateTimeField()
    reversed_amount = serializers.CharField()
    current_status = serializers.CharField(
        help_text="captured, partially_reversed or reversed, as of now."
    )


class RedemptionPageSerializer(serializers.Serializer):
    results = RedemptionListItemSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class HoldSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["open", "captured", "released", "expired"])
    amount = serializers.CharField()
    expires_at = serializers.DateTimeField()
    balance_after = serializers.CharField()
    replayed = serializers.BooleanField()


class ReversalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    redemption = serializers.IntegerField()
    amount = serializers.CharField()
    balance_after = serializers.CharField()
    replayed = serializers.BooleanField()


class BatchResultSerializer(serializers.Serializer):
    reference = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["captured", "replayed", "rejected"])


class UsageBatchResponseSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)
