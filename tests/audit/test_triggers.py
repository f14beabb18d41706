"""``triggers_ignored``: the append-only guards off for one block, and only it.

It replaces ``pgtrigger.ignore``, which prepends a statement to every query
and so fails with server-side parameter binding (the settings' default on
PostgreSQL).
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from audit.triggers import triggers_ignored

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the guards are PostgreSQL triggers"
    ),
]

GUARD = "audit.AuditEvent:audit_event_append_only"


def _event() -> AuditEvent:
    return audit_record(
        actor=Actor.system("test"), event_type="test.event", obj=None, object_id="1"
    )


def _setting() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('pgtrigger.ignore', true)")
        return cursor.fetchone()[0]


def test_a_guarded_delete_passes_inside_the_block_and_is_refused_after_it() -> None:
    kept, deleted = _event(), _event()
    with triggers_ignored(GUARD):
        AuditEvent.objects.filter(pk=deleted.pk).delete()
    assert not AuditEvent.objects.filter(pk=deleted.pk).exists()
    assert _setting() in (None, "")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=kept.pk).delete()
    assert AuditEvent.objects.filter(pk=kept.pk).exists()


def test_only_the_named_trigger_is_ignored() -> None:
    event = _event()
    with (
        triggers_ignored("audit.AuditEvent:audit_event_no_truncate"),
        pytest.raises(DatabaseError),
        transaction.atomic(),
    ):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_failed_block_leaves_the_guards_on() -> None:
    event = _event()
    with pytest.raises(RuntimeError), transaction.atomic(), triggers_ignored(GUARD):
        raise RuntimeError("the sanctioned operation failed")
    assert _setting() in (None, "")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_naming_no_trigger_is_an_error_not_all_of_them() -> None:
    with pytest.raises(ValueError, match="name the triggers"), triggers_ignored():
        pass
