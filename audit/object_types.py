"""The stable names under which the log records the objects it is about.

An event's ``object_type`` is ``app_label.model_name`` of the object's model
when the event was written. Events are hash-chained and exported, so the
name never changes: a model that moves to another app declares the name it
was recorded under as ``audit_object_type`` and keeps being recorded (and
found) under it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.apps import apps
from django.db import models


def object_type_of(model_or_obj: Any) -> str:
    """The object type recorded for ``model_or_obj`` (a model or an instance)."""
    declared = getattr(model_or_obj, "audit_object_type", None)
    if declared:
        return str(declared)
    meta = model_or_obj._meta
    return f"{meta.app_label}.{meta.model_name}"


@cache
def _by_declared_type() -> dict[str, type[models.Model]]:
    return {
        model.audit_object_type: model  # type: ignore[attr-defined]
        for model in apps.get_models()
        if getattr(model, "audit_object_type", None)
    }


def model_for(object_type: str) -> type[models.Model] | None:
    """The model recorded under ``object_type``, wherever it lives now."""
    model = _by_declared_type().get(object_type)
    if model is not None:
        return model
    app_label, _dot, model_name = object_type.partition(".")
    try:
        return apps.get_model(app_label, model_name)
    except (LookupError, ValueError):
        return None
