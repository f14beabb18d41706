"""Checking what a caller hands the voucher services: amounts, references,
times, codes and usage lines, each refused with the contract's
``validation_error`` and the field it concerns; and the digest that tells a
replayed request from a different one under the same reference."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import BusinessError, Code
from programs.models import Program
from vouchers.codes import normalize_code
from vouchers.services.responses import CENT

FUTURE_TOLERANCE = datetime.timedelta(minutes=5)


def fingerprint_of(**fields: Any) -> str:
    """A digest of a request's inputs, to tell a replay from a conflict."""

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        if isinstance(value, datetime.datetime):
            return value.astimezone(datetime.UTC).isoformat()
        return value

    body = json.dumps(
        {k: plain(v) for k, v in fields.items()}, sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(body.encode()).hexdigest()


def checked_amount(
    value: Any, *, unit: str | None, field_name: str, allow_zero: bool = False
) -> Decimal:
    """Validate an amount: a Decimal (or int), positive, in the unit's precision."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise BusinessError(
            Code.VALIDATION_ERROR, _("An amount must be a decimal string."), field_name
        )
    amount = Decimal(value)
    if not amount.is_finite():
        raise BusinessError(Code.VALIDATION_ERROR, _("This amount is not a number."), field_name)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise BusinessError(
            Code.VALIDATION_ERROR, _("The amount must be greater than zero."), field_name
        )
    if unit == Program.Unit.POINTS and amount != amount.to_integral_value():
        raise BusinessError(
            Code.VALIDATION_ERROR, _("Point amounts are whole numbers."), field_name
        )
    if amount != amount.quantize(CENT, rounding=ROUND_DOWN):
        raise BusinessError(
            Code.VALIDATION_ERROR, _("Amounts have at most 2 decimal places."), field_name
        )
    if amount >= Decimal("1e14"):
        raise BusinessError(Code.VALIDATION_ERROR, _("This amount is too large."), field_name)
    return amount.quantize(CENT)


def checked_reference(reference: Any) -> str:
    if not isinstance(reference, str) or not 1 <= len(reference) <= 255:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("A reference is required, at most 255 characters."),
            "reference",
        )
    return reference


def checked_occurred_at(moment: Any) -> datetime.datetime:
    if not isinstance(moment, datetime.datetime) or timezone.is_naive(moment):
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("occurred_at must be an ISO 8601 time with a UTC offset."),
            "occurred_at",
        )
    if moment > timezone.now() + FUTURE_TOLERANCE:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("occurred_at lies in the future."), "occurred_at"
        )
    return moment


def checked_code(text: Any) -> str:
    code = normalize_code(text) if isinstance(text, str) else None
    if code is None:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("This is not a valid voucher code; please check it for typos."),
            "voucher",
        )
    return code


def usage_lines(usage: Any) -> list[dict[str, Any]]:
    if usage is None:
        return []
    if not isinstance(usage, Sequence) or isinstance(usage, str | bytes):
        raise BusinessError(Code.VALIDATION_ERROR, _("usage must be a list."), "usage")
    lines = []
    for line in usage:
        if not isinstance(line, Mapping):
            raise BusinessError(
                Code.VALIDATION_ERROR, _("Each usage line must be an object."), "usage"
            )
        lines.append(json.loads(json.dumps(dict(line), default=str)))
    return lines


def voucher_not_found() -> BusinessError:
    return BusinessError(Code.VOUCHER_NOT_FOUND, _("No voucher has this code."), "voucher")


def is_reference_clash(exc: IntegrityError) -> bool:
    return "reference_unique_per_platform" in str(exc)
