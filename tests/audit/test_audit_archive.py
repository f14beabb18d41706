"""Archiving events older than the retention period keeps the chain verifiable."""

from __future__ import annotations

import datetime
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.archive import ArchiveRefused, archive_verify_file, audit_archive
from audit.models import AuditArchive, AuditEvent, AuditSeal
from audit.services import audit_checkpoint_create, audit_seal_pending
from audit.verification import audit_verify
from tests.audit.helpers import record, tamper

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _aged(days: int, n: int) -> list[AuditEvent]:
    events = record(n, prefix=f"aged{days}")
    # The age is counted from the application's clock, not PostgreSQL's now():
    # the day-boundary pass fakes the one and cannot fake the other.
    tamper(
        "UPDATE audit_auditevent SET occurred_at = %s WHERE id = ANY(%s)",
        [timezone.now() - datetime.timedelta(days=days), [e.pk for e in events]],
    )
    return events


@pytest.fixture
def mixed_log() -> dict[str, list[AuditEvent]]:
    old = _aged(400, 3)
    older_than_retention = _aged(200, 2)
    young = _aged(10, 2)
    audit_seal_pending()
    audit_checkpoint_create()
    return {"old": old, "mid": older_than_retention, "young": young}


def test_an_archive_younger_than_180_days_is_refused(
    mixed_log: dict[str, list[AuditEvent]], tmp_path: Path
) -> None:
    too_recent = timezone.localdate() - datetime.timedelta(days=179)
    with pytest.raises(CommandError, match="at least 180 days"):
        call_command("audit_archive", before=too_recent.isoformat(), out=str(tmp_path / "a.jsonl"))
    assert not (tmp_path / "a.jsonl").exists()
    assert AuditEvent.objects.count() == 7


def test_archiving_without_delete_writes_a_verifiable_file_and_keeps_the_rows(
    mixed_log: dict[str, list[AuditEvent]], tmp_path: Path
) -> None:
    out = tmp_path / "a.jsonl"
    cutoff = timezone.localdate() - datetime.timedelta(days=300)
    result = audit_archive(before=cutoff, out=out)
    assert (result.first_seq, result.last_seq, result.events) == (1, 3, 3)
    assert archive_verify_file(out) == (True, "3 archived events verify")
    assert AuditEvent.objects.count() == 7 and not AuditArchive.objects.exists()


def test_archiving_with_delete_keeps_the_rest_of_the_chain_and_its_checkpoints_verifiable(
    mixed_log: dict[str, list[AuditEvent]], tmp_path: Path
) -> None:
    out = tmp_path / "a.jsonl"
    cutoff = timezone.localdate() - datetime.timedelta(days=190)
    stdout = StringIO()
    call_command(
        "audit_archive", before=cutoff.isoformat(), out=str(out), delete=True, stdout=stdout
    )
    assert "Archived seals 1–5 (5 events)" in stdout.getvalue()
    remaining = set(AuditEvent.objects.values_list("id", flat=True))
    assert {e.pk for e in mixed_log["young"]} <= remaining
    assert not remaining & {e.pk for e in mixed_log["old"] + mixed_log["mid"]}
    assert AuditSeal.objects.order_by("seq").first().seq == 6  # type: ignore[union-attr]
    # The checkpoint signed before archiving (size 7) still verifies, from the archived head.
    result = audit_verify()
    assert result.ok, result.problem
    assert result.archived_up_to == 5
    # The chain carries on after the archive.
    record(2)
    audit_seal_pending()
    audit_checkpoint_create()
    assert audit_verify().ok
    assert archive_verify_file(out)[0]


def test_a_change_after_the_archive_is_still_named(
    mixed_log: dict[str, list[AuditEvent]], tmp_path: Path
) -> None:
    cutoff = timezone.localdate() - datetime.timedelta(days=190)
    audit_archive(before=cutoff, out=tmp_path / "a.jsonl", delete=True)
    victim = mixed_log["young"][1]
    tamper("UPDATE audit_auditevent SET note = 'x' WHERE id = %s", [victim.pk])
    result = audit_verify()
    assert not result.ok and result.event_id == victim.pk


def test_an_edited_archive_file_no_longer_verifies(
    mixed_log: dict[str, list[AuditEvent]], tmp_path: Path
) -> None:
    out = tmp_path / "a.jsonl"
    audit_archive(before=timezone.localdate() - datetime.timedelta(days=190), out=out)
    lines = out.read_text(encoding="utf-8").splitlines()
    item = json.loads(lines[2])
    item["event"]["note"] = "rewritten"
    lines[2] = json.dumps(item, ensure_ascii=False)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ok, message = archive_verify_file(out)
    assert not ok and f"event #{item['event']['id']} (seal 2)" in message


def test_a_log_that_does_not_verify_is_not_archived(
    mixed_log: dict[str, list[AuditEvent]], tmp_path: Path
) -> None:
    tamper("UPDATE audit_auditevent SET note = 'x' WHERE id = %s", [mixed_log["old"][0].pk])
    with pytest.raises(ArchiveRefused, match="does not verify"):
        audit_archive(
            before=timezone.localdate() - datetime.timedelta(days=190),
            out=tmp_path / "a.jsonl",
            delete=True,
        )
    assert AuditEvent.objects.count() == 7
