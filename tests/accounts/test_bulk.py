"""copy_insert writes what bulk_create writes, through COPY on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict

from accounts.bulk import copy_insert
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

EVIDENCE = {"key_id": "k-1", "covered_components": [["@method", "POST"]], "note": '引号"和\\'}


def _events(n: int, **fields: object) -> list[AuditEvent]:
    base = {
        "event_type": "test.bulk",
        "actor_kind": AuditEvent.ActorKind.SYSTEM,
        "actor_label": "tests",
        "object_type": "tests.thing",
        "object_repr": "东西",
        "district_id": 7,
        "after": {"amount": "1.50", "list": [1, None, True]},
        "evidence": EVIDENCE,
    }
    base.update(fields)
    return [AuditEvent(object_id=str(i), **base) for i in range(n)]  # type: ignore[arg-type]


def _stored(events: list[AuditEvent]) -> list[dict[str, object]]:
    ids = [e.pk for e in events]
    rows = AuditEvent.objects.filter(pk__in=ids).order_by("pk")
    return [model_to_dict(r, exclude=["id", "occurred_at"]) for r in rows]


def test_copy_insert_writes_the_rows_bulk_create_writes() -> None:
    copied = copy_insert(_events(5, source_ip=""))
    created = AuditEvent.objects.bulk_create(_events(5, source_ip=""))
    assert _stored(copied) == _stored(created)
    stored = AuditEvent.objects.get(pk=copied[0].pk)
    assert stored.evidence == EVIDENCE and stored.after == {
        "amount": "1.50",
        "list": [1, None, True],
    }
    assert stored.source_ip is None  # a blank address is NULL, as bulk_create stores it
    assert stored.occurred_at is not None  # auto_now_add applied


def test_copy_insert_gives_ids_in_order_and_marks_instances_saved() -> None:
    events = copy_insert(_events(50, source_ip="10.0.0.1"))
    ids = [e.pk for e in events]
    assert None not in ids and ids == sorted(ids) and len(set(ids)) == 50
    assert all(not e._state.adding for e in events)
    assert list(
        AuditEvent.objects.filter(pk__in=ids).values_list("object_id", flat=True).order_by("pk")
    ) == [str(i) for i in range(50)]
    assert AuditEvent.objects.get(pk=ids[0]).source_ip == "10.0.0.1"


def test_copy_insert_of_nothing_is_nothing() -> None:
    assert copy_insert([]) == []


def test_copy_insert_raises_djangos_integrity_error() -> None:
    first = copy_insert(_events(1))[0]
    clash = _events(1)[0]
    clash.pk = first.pk
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        copy_insert([clash])
    if connection.vendor == "postgresql":
        # The constraint is named, as the reference-clash check relies on.
        assert "audit_auditevent_pkey" in str(raised.value)
