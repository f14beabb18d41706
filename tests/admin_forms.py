"""Test helper: the POST data of an admin change form, as a browser would send it."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Model


def _put(data: dict[str, Any], name: str, value: Any) -> None:
    if value is None or value is False:
        return
    if value is True:
        data[name] = "on"
    elif isinstance(value, list | tuple):
        data[name] = [str(v.pk if isinstance(v, Model) else v) for v in value]
    elif isinstance(value, Model):
        data[name] = str(value.pk)
    elif isinstance(value, datetime.datetime):
        data[f"{name}_0"] = value.date().isoformat()
        data[f"{name}_1"] = value.time().isoformat()
        data[name] = value.isoformat()
    elif isinstance(value, datetime.date | Decimal | int | float):
        data[name] = str(value)
    else:
        data[name] = value


def posted_form(response: Any) -> dict[str, Any]:
    """The data the change form in ``response`` sends unchanged (main form and inlines)."""
    context = response.context
    data: dict[str, Any] = {}
    form = context["adminform"].form
    for name in form.fields:
        _put(data, form.add_prefix(name), form[name].value())
    for inline in context.get("inline_admin_formsets", []):
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            _put(data, management.add_prefix(name), management[name].value())
        for inline_form in formset.initial_forms:
            for name in inline_form.fields:
                _put(data, inline_form.add_prefix(name), inline_form[name].value())
        # Extra (empty) forms are sent empty.
        data[management.add_prefix("TOTAL_FORMS")] = str(len(formset.initial_forms))
    return data
