"""Serializer fields of the API's conventions: amounts are decimal strings."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


# Positive, plain digits, at most 2 decimal places: what every amount must be.
AMOUNT_PATTERN = r"^(?=.*[1-9])[0-9]{1,14}(\.[0-9]{1,2})?$"


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": AMOUNT_PATTERN, "example": "120.00"}
)
class DecimalStringField(serializers.DecimalField):
    """A money or points amount sent as a decimal string (``"120.00"``).

    A JSON number is refused with ``validation_error``: a float may already
    have been rounded by the client's JSON encoder, and money is never float.
    Exponents, ``NaN`` and surrounding spaces are refused as well.
    """

    default_error_messages = {
        "not_a_string": _('Amounts are decimal strings such as "120.00", not JSON numbers.'),
        "not_plain_decimal": _('Write the amount as plain digits such as "120.00".'),
    }

    def __init__(self, *, decimal_places: int = 2, max_digits: int = 18, **kwargs: Any) -> None:
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str):
            self.fail("not_a_string")
        if not _DECIMAL.fullmatch(data):
            self.fail("not_plain_decimal")
        return super().to_internal_value(data)


class CNYAmountField(DecimalStringField):
    """A CNY amount: at most 2 decimal places."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(decimal_places=2, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^(?=.*[1-9])[0-9]{1,14}$",
        "example": "1500",
    }
)
class PointsAmountField(DecimalStringField):
    """A points amount: whole points, as a string."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(decimal_places=0, **kwargs)
