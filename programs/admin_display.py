"""Amount columns and read-only fields for the admin, written as the portal
writes them (the ``amount`` filter): "¥1,234.00", "1,500 点" / "1,500 points"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db import models
from django.utils.html import format_html

from common.formatting import amount


def amount_display(
    model: type[models.Model],
    field_name: str,
    *,
    unit: Callable[[Any], str],
    description: Any = None,
) -> Callable[[Any], str]:
    """An admin column (or read-only field) showing ``field_name`` as an amount.

    ``unit(obj)`` says whether the amount is in yuan ("CNY") or points
    ("POINTS"). The callable carries the field's name, so the admin keeps the
    model field's label, help text, sort order and ``field-<name>`` CSS class.
    """
    label = getattr(model._meta.get_field(field_name), "verbose_name", field_name)

    def show(obj: Any) -> str:
        # The class keeps the figure on one line and right-aligns its cell.
        return format_html(
            '<span class="amount">{}</span>', amount(getattr(obj, field_name), unit(obj))
        )

    show.__name__ = field_name
    show.__qualname__ = f"{model.__name__}.{field_name}"
    return admin.display(
        description=description if description is not None else label,
        ordering=field_name,
    )(show)


def own_unit(obj: Any) -> str:
    """The unit of a voucher, program or receivable (it has a ``unit`` field)."""
    return str(obj.unit)


def voucher_unit(obj: Any) -> str:
    """The unit of the voucher that a ledger entry, hold or redemption belongs to."""
    return str(obj.voucher.unit)


def program_unit(obj: Any) -> str:
    """The unit of the program an application is made to."""
    return str(obj.program.unit)


def yuan(obj: Any) -> str:
    """Platforms bill in yuan, whatever the voucher's unit."""
    return "CNY"
