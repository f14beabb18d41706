"""copy_insert writes what bulk_create writes, through COPY on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict

from audit.models import AuditEvent
from common.bulk import copy_insert, insert_one
from platforms.models import SignedRequestBody
from tests.accounts.factories import ComputePlatformFactory

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


def test_insert_one_writes_the_row_save_writes() -> None:
    inserted = _events(1, source_ip="")[0]
    saved = _events(1, source_ip="")[0]
    assert insert_one(inserted) is True
    saved.save(force_insert=True)
    assert inserted.pk is not None and not inserted._state.adding
    assert inserted._state.db == "default"
    assert _stored([inserted]) == _stored([saved])
    stored = AuditEvent.objects.get(pk=inserted.pk)
    assert stored.evidence == EVIDENCE
    assert stored.source_ip is None and stored.occurred_at is not None


def test_insert_one_sends_one_statement_with_the_same_text_each_time() -> None:
    sent: list[str] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        insert_one(_events(1)[0])
        insert_one(_events(1, evidence=None)[0])
    assert len(sent) == 2 and sent[0] == sent[1]  # one text: PostgreSQL prepares it
    assert sent[0].startswith("INSERT INTO")
    assert AuditEvent.objects.filter(evidence__isnull=True, event_type="test.bulk").count() == 1


def test_insert_one_with_a_given_key_and_ignore_conflicts_keeps_the_first_row() -> None:
    platform = ComputePlatformFactory()
    first = SignedRequestBody(sha256="a" * 64, platform_id=platform.pk, body=b'{"x": 1}')
    again = SignedRequestBody(sha256="a" * 64, platform_id=platform.pk, body=b"other")
    assert insert_one(first, ignore_conflicts=True) is True
    assert insert_one(again, ignore_conflicts=True) is False
    assert bytes(SignedRequestBody.objects.get(sha256="a" * 64).body) == b'{"x": 1}'
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_one(SignedRequestBody(sha256="a" * 64, platform_id=platform.pk, body=b""))


def test_insert_one_raises_djangos_integrity_error() -> None:
    first = copy_insert(_events(1))[0]
    clash = _events(1)[0]
    clash.pk = first.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_one(clash)
