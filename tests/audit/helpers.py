"""Helpers for the audit tests: record events, tamper with rows in raw SQL."""

from __future__ import annotations

from typing import Any

from django.db import connection

from audit.models import AuditEvent
from audit.services import Actor, audit_record


def record(n: int, *, district_id: int | None = None, prefix: str = "test") -> list[AuditEvent]:
    """Record ``n`` events about made-up objects."""
    return [
        audit_record(
            actor=Actor.system(f"{prefix}-task"),
            event_type=f"{prefix}.event",
            obj=None,
            object_type="tests.thing",
            object_id=str(i),
            object_repr=f"thing {i}",
            before={"n": i},
            after={"n": i + 1, "label": "第一"},
            district_id=district_id,
        )
        for i in range(n)
    ]


def tamper(sql: str, params: list[Any] | None = None, *, table: str = "audit_auditevent") -> None:
    """Run ``sql`` as the database superuser with ``table``'s triggers off."""
    with connection.cursor() as cur:
        cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        cur.execute(sql, params or [])
        cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")
