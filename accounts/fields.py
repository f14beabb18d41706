"""Model fields shared by every app (``accounts`` is the bottom layer)."""

from __future__ import annotations

from typing import Any

from django.db import models


class BulkJSONField(models.JSONField):
    """A JSONField that bulk-inserts as plain ``VALUES`` rows.

    Django 5.2 bulk-inserts on PostgreSQL through ``UNNEST(%s::jsonb[])``,
    and psycopg dumps a jsonb array by escaping every element with a regular
    expression callback per quote character: for the 1,000 ledger entries of
    a usage batch, each carrying its signed request's evidence, that took
    most of the request's time. A field with a ``get_placeholder`` makes
    Django use ``VALUES`` for the whole insert, where each value is sent as
    one parameter. Nothing else changes: same column type, same data.
    """

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"
