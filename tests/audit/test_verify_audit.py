"""verify_audit names the first event that no longer matches the chain.

The rows are changed, deleted and reordered as the database superuser with
the append-only triggers switched off, as an intruder with that access would.
"""

from __future__ import annotations

import datetime
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit import canonical
from audit.models import AuditCheckpoint, AuditEvent, AuditSeal
from audit.services import audit_checkpoint_create, audit_seal_pending
from audit.verification import audit_verify
from tests.audit.helpers import record, tamper

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _verify(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def sealed_log() -> list[AuditEvent]:
    events = record(10)
    audit_seal_pending()
    audit_checkpoint_create()
    return events


def test_an_untouched_log_verifies_and_prints_counts(sealed_log: list[AuditEvent]) -> None:
    record(2)  # not sealed yet: counted, not an error
    status, out, _err = _verify()
    assert status == 0
    assert "10 sealed events, 1 checkpoints, 2 events awaiting their seal" in out


def test_a_changed_event_is_named(sealed_log: list[AuditEvent]) -> None:
    victim = sealed_log[4]
    tamper("UPDATE audit_auditevent SET after = '{\"n\": 999}' WHERE id = %s", [victim.pk])
    status, _out, err = _verify()
    assert status == 1
    assert f"First event that does not match: #{victim.pk}" in err
    assert "changed after it was sealed" in err


@pytest.mark.parametrize(
    "column, value",
    [
        ("occurred_at", "2020-01-01T00:00:00Z"),
        ("actor_label", "someone-else@example.test"),
        ("source_ip", "10.9.9.9"),
        ("district_id", "99"),
        ("note", "edited"),
    ],
)
def test_a_change_to_any_column_is_found(
    sealed_log: list[AuditEvent], column: str, value: str
) -> None:
    victim = sealed_log[2]
    tamper(f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s", [value, victim.pk])  # noqa: S608
    result = audit_verify()
    assert not result.ok and result.event_id == victim.pk


def test_a_deleted_event_is_named(sealed_log: list[AuditEvent]) -> None:
    victim = sealed_log[6]
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    status, _out, err = _verify()
    assert status == 1
    assert f"event #{victim.pk} (seal 7) has been deleted" in err


def test_a_deleted_event_with_its_seal_is_found_at_the_gap(sealed_log: list[AuditEvent]) -> None:
    victim = sealed_log[3]
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    tamper("DELETE FROM audit_auditseal WHERE event_id = %s", [victim.pk], table="audit_auditseal")
    result = audit_verify()
    assert not result.ok
    assert result.seq == 4
    assert "seals 4–4 are missing" in result.problem
    assert result.event_id == sealed_log[4].pk


def test_two_events_whose_contents_were_swapped_are_found_at_the_first(
    sealed_log: list[AuditEvent],
) -> None:
    a, b = sealed_log[2], sealed_log[5]
    tamper(
        """
        UPDATE audit_auditevent AS t SET object_id = s.object_id, before = s.before, after = s.after
        FROM audit_auditevent AS s
        WHERE (t.id, s.id) IN ((%s, %s), (%s, %s))
        """,
        [a.pk, b.pk, b.pk, a.pk],
    )
    result = audit_verify()
    assert not result.ok and result.event_id == a.pk


def test_reordered_seals_are_found_at_the_first_moved_event(sealed_log: list[AuditEvent]) -> None:
    # Swap the chain positions of the 3rd and 6th events.
    tamper(
        """
        UPDATE audit_auditseal SET seq = CASE seq WHEN 3 THEN -6 WHEN 6 THEN -3 END
        WHERE seq IN (3, 6);
        UPDATE audit_auditseal SET seq = -seq WHERE seq < 0;
        """,
        table="audit_auditseal",
    )
    result = audit_verify()
    assert not result.ok
    assert result.event_id == sealed_log[5].pk
    assert result.seq == 3
    assert "reordered" in result.problem


def test_reordered_event_times_are_found(sealed_log: list[AuditEvent]) -> None:
    a, b = sealed_log[1], sealed_log[8]
    tamper(
        """
        UPDATE audit_auditevent AS t SET occurred_at = s.occurred_at
        FROM audit_auditevent AS s WHERE (t.id, s.id) IN ((%s, %s), (%s, %s))
        """,
        [a.pk, b.pk, b.pk, a.pk],
    )
    result = audit_verify()
    assert not result.ok and result.event_id == a.pk


def test_a_rewritten_and_resealed_stretch_is_caught_by_the_checkpoint(
    sealed_log: list[AuditEvent],
) -> None:
    # The intruder changes event 5 and recomputes every seal from there on,
    # so the chain alone looks intact; the signed checkpoint does not match.
    victim = sealed_log[4]
    tamper("UPDATE audit_auditevent SET note = 'forged' WHERE id = %s", [victim.pk])
    seals = list(AuditSeal.objects.order_by("seq"))
    prev = seals[3].chain_hash
    for seal in seals[4:]:
        row = AuditEvent.objects.filter(pk=seal.event_id).values(*canonical.EVENT_FIELDS_V1).get()
        entry = canonical.entry_hash("sha256", row)
        link = canonical.chain_hash(
            "sha256", seq=seal.seq, event_id=seal.event_id, entry=entry, prev=prev
        )
        tamper(
            "UPDATE audit_auditseal SET entry_hash = %s, prev_hash = %s, chain_hash = %s WHERE seq = %s",
            [entry, prev, link, seal.seq],
            table="audit_auditseal",
        )
        prev = link
    result = audit_verify()
    assert not result.ok
    assert "rewritten and re-sealed" in result.problem
    # The earliest possible start: no checkpoint before it verified.
    assert result.event_id == sealed_log[0].pk


def test_a_resealed_stretch_after_a_good_checkpoint_names_the_first_event_after_it() -> None:
    first = record(4)
    audit_seal_pending()
    audit_checkpoint_create()
    later = record(4)
    audit_seal_pending()
    audit_checkpoint_create()
    victim = later[2]
    tamper("UPDATE audit_auditevent SET note = 'forged' WHERE id = %s", [victim.pk])
    seals = list(AuditSeal.objects.order_by("seq"))
    prev = seals[5].chain_hash
    for seal in seals[6:]:
        row = AuditEvent.objects.filter(pk=seal.event_id).values(*canonical.EVENT_FIELDS_V1).get()
        entry = canonical.entry_hash("sha256", row)
        link = canonical.chain_hash(
            "sha256", seq=seal.seq, event_id=seal.event_id, entry=entry, prev=prev
        )
        tamper(
            "UPDATE audit_auditseal SET entry_hash = %s, prev_hash = %s, chain_hash = %s WHERE seq = %s",
            [entry, prev, link, seal.seq],
            table="audit_auditseal",
        )
        prev = link
    result = audit_verify()
    assert not result.ok
    assert result.event_id == later[0].pk and result.seq == 5
    assert first  # the first checkpoint's range verified


def test_a_removed_tail_is_caught_by_the_checkpoint(sealed_log: list[AuditEvent]) -> None:
    tail = [e.pk for e in sealed_log[8:]]
    tamper("DELETE FROM audit_auditevent WHERE id = ANY(%s)", [tail])
    tamper("DELETE FROM audit_auditseal WHERE event_id = ANY(%s)", [tail], table="audit_auditseal")
    result = audit_verify()
    assert not result.ok
    assert "covers 10 events but the chain ends at seal 8" in result.problem
    assert result.event_id == sealed_log[7].pk


def test_a_forged_checkpoint_signature_is_refused(sealed_log: list[AuditEvent]) -> None:
    tamper(
        "UPDATE audit_auditcheckpoint SET root_hash = repeat('0', 64)",
        table="audit_auditcheckpoint",
    )
    status, _out, err = _verify()
    assert status == 1 and "signature that does not verify" in err


def test_a_deleted_checkpoint_is_caught_by_the_published_copy(
    sealed_log: list[AuditEvent], tmp_path: Path
) -> None:
    published = tmp_path / "published.json"
    call_command("audit_checkpoint", export=str(published), no_create=True, stdout=StringIO())
    # Rewrite the log and delete the checkpoint that would have caught it.
    victim = sealed_log[9]
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    tamper("DELETE FROM audit_auditseal WHERE event_id = %s", [victim.pk], table="audit_auditseal")
    tamper("DELETE FROM audit_auditcheckpoint", table="audit_auditcheckpoint")
    assert _verify()[0] == 0
    status, _out, err = _verify("--published", str(published))
    assert status == 1 and "published checkpoint of size 10" in err
    assert json.loads(published.read_text())["checkpoints"][0]["tree_size"] == 10


def test_sm3_logs_verify_and_catch_changes(settings: Any) -> None:
    settings.AUDIT_HASH_ALGORITHM = "sm3"
    events = record(4)
    audit_seal_pending()
    audit_checkpoint_create()
    assert audit_verify().ok
    tamper("UPDATE audit_auditevent SET note = 'x' WHERE id = %s", [events[1].pk])
    assert audit_verify().event_id == events[1].pk


@pytest.mark.parametrize("table", ["audit_auditevent", "audit_auditseal", "audit_auditcheckpoint"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET id = id", "DELETE FROM {t}", "TRUNCATE {t}"])
def test_the_database_refuses_to_change_the_log(
    sealed_log: list[AuditEvent], table: str, statement: str
) -> None:
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(statement.format(t=table))
    assert AuditCheckpoint.objects.count() == 1


def test_events_left_unsealed_for_long_are_reported_but_do_not_fail(
    sealed_log: list[AuditEvent],
) -> None:
    (late,) = record(1)
    tamper(
        "UPDATE audit_auditevent SET occurred_at = %s WHERE id = %s",
        [timezone.now() - datetime.timedelta(hours=1), late.pk],
    )
    status, _out, err = _verify()
    assert status == 0
    assert "1 events are older than 10 minutes and still unsealed" in err
