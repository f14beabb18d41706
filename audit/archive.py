"""Archiving sealed events older than the retention period, keeping the chain verifiable.

The archive file (JSON Lines) starts with a header that holds the chain head
and Merkle frontier the range continues from, then one line per event with
its seal, and ends with a trailer holding the chain head and Merkle frontier
at its end and every signed checkpoint so far. Anyone can re-derive the
range from the file alone (:func:`archive_verify_file`). When the rows are
deleted, an :class:`~audit.models.AuditArchive` row keeps the end head, and
``verify_audit`` resumes the chain from it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import canonical, events
from .merkle import Frontier
from .models import AuditArchive, AuditCheckpoint, AuditEvent, AuditSeal
from .services import (
    Actor,
    _frontier_at,
    _wait_seal_lock,
    audit_record,
    audit_seal_pending,
    chain_head,
    checkpoint_export,
)
from .triggers import triggers_ignored
from .verification import audit_verify

FORMAT = "compute-vouchers-audit-archive/1"


class ArchiveRefused(Exception):
    """The archive step would break the retention rule or the chain."""


@dataclass(frozen=True)
class ArchiveResult:
    first_seq: int
    last_seq: int
    events: int
    file_sha256: str
    deleted: bool


def earliest_allowed_cutoff() -> datetime.date:
    """The latest date an archive may end at: events younger than the retention stay."""
    days = max(180, int(getattr(settings, "AUDIT_RETENTION_DAYS", 180)))
    return timezone.localdate() - datetime.timedelta(days=days)


def _cutoff_moment(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(canonical.canonical_bytes(row))


def audit_archive(*, before: datetime.date, out: Path, delete: bool = False) -> ArchiveResult:
    """Write the sealed events older than ``before`` to ``out``; with ``delete``,
    remove them from the database and keep the head the chain resumes from.

    Refuses a ``before`` less than the retention period (180 days) ago, and
    refuses to archive a log that does not verify.
    """
    if before > earliest_allowed_cutoff():
        raise ArchiveRefused(
            f"Events are kept at least {settings.AUDIT_RETENTION_DAYS} days: the archive "
            f"must end on or before {earliest_allowed_cutoff().isoformat()}."
        )
    audit_seal_pending(full_scan=True)
    result = audit_verify()
    if not result.ok:
        raise ArchiveRefused(f"The log does not verify; nothing archived. {result.problem}")
    cutoff = _cutoff_moment(before)
    with transaction.atomic():
        _wait_seal_lock()
        anchor = AuditArchive.objects.order_by("-last_seq").first()
        start_seq = anchor.last_seq if anchor else 0
        head = chain_head()
        algorithm = head.algorithm
        first_young = (
            AuditSeal.objects.filter(
                seq__gt=start_seq,
                event_id__in=AuditEvent.objects.filter(occurred_at__gte=cutoff).values("id"),
            )
            .order_by("seq")
            .values_list("seq", flat=True)
            .first()
        )
        last_seq = (first_young - 1) if first_young is not None else head.seq
        if last_seq <= start_seq:
            raise ArchiveRefused("No sealed events before that date are left to archive.")
        unsealed_old = AuditEvent.objects.filter(seal__isnull=True, occurred_at__lt=cutoff)
        if unsealed_old.exists():
            raise ArchiveRefused("Some events before that date are not sealed yet.")

        start_frontier = _frontier_at(start_seq, algorithm)
        prev = anchor.chain_head if anchor else canonical.GENESIS
        if start_seq and not anchor:
            raise ArchiveRefused("The chain does not start at seal 1 and no archive explains it.")
        frontier = Frontier.from_hex(algorithm, start_frontier.size, start_frontier.to_hex())
        digest = hashlib.sha256()
        count = 0
        last_event_id = 0
        with out.open("w", encoding="utf-8") as fh:

            def write(obj: dict[str, Any]) -> None:
                line = json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n"
                fh.write(line)
                digest.update(line.encode("utf-8"))

            write(
                {
                    "format": FORMAT,
                    "before": before.isoformat(),
                    "algorithm": algorithm,
                    "first_seq": start_seq + 1,
                    "last_seq": last_seq,
                    "prev_chain_head": prev,
                    "prev_frontier": start_frontier.to_hex(),
                }
            )
            seq = start_seq
            while seq < last_seq:
                seals = list(
                    AuditSeal.objects.filter(seq__gt=seq, seq__lte=last_seq)
                    .order_by("seq")
                    .values(
                        "seq",
                        "event_id",
                        "algorithm",
                        "entry_hash",
                        "prev_hash",
                        "chain_hash",
                        "sealed_at",
                    )[:5000]
                )
                rows = {
                    r["id"]: r
                    for r in AuditEvent.objects.filter(
                        id__in=[s["event_id"] for s in seals]
                    ).values(*canonical.EVENT_FIELDS_V1)
                }
                for s in seals:
                    write(
                        {
                            "seal": {**s, "sealed_at": s["sealed_at"].isoformat()},
                            "event": _plain_row(rows[s["event_id"]]),
                        }
                    )
                    frontier.append(bytes.fromhex(s["entry_hash"]))
                    seq = s["seq"]
                    prev = s["chain_hash"]
                    last_event_id = s["event_id"]
                    count += 1
            checkpoints = list(AuditCheckpoint.objects.order_by("tree_size", "id"))
            write(
                {
                    "trailer": True,
                    "chain_head": prev,
                    "frontier": frontier.to_hex(),
                    "merkle_root": frontier.root().hex(),
                    "checkpoints": checkpoint_export(checkpoints) if checkpoints else None,
                }
            )
        sha = digest.hexdigest()
        ok, message = archive_verify_file(out)
        if not ok:
            raise ArchiveRefused(f"The archive file does not verify: {message}")
        if delete:
            AuditArchive.objects.create(
                last_seq=last_seq,
                last_event_id=last_event_id,
                before=cutoff,
                algorithm=algorithm,
                chain_head=prev,
                frontier=frontier.to_hex(),
                file_name=out.name,
                file_sha256=sha,
            )
            # A subquery, not a list: an archive run may remove millions of events.
            archived_ids = AuditSeal.objects.filter(seq__gt=start_seq, seq__lte=last_seq).values(
                "event_id"
            )
            # The one sanctioned deletion: the append-only triggers are
            # switched off for this transaction only.
            with triggers_ignored(
                "audit.AuditEvent:audit_event_append_only",
                "audit.AuditSeal:audit_seal_append_only",
            ):
                AuditEvent.objects.filter(id__in=archived_ids).delete()
                AuditSeal.objects.filter(seq__gt=start_seq, seq__lte=last_seq).delete()
            audit_record(
                actor=Actor.system("audit_archive"),
                event_type=events.AUDIT_ARCHIVED,
                obj=None,
                object_type="audit.auditarchive",
                object_id=str(last_seq),
                object_repr=out.name,
                after={"first_seq": start_seq + 1, "last_seq": last_seq, "file_sha256": sha},
            )
    return ArchiveResult(start_seq + 1, last_seq, count, sha, delete)


def archive_verify_file(path: Path) -> tuple[bool, str]:
    """Re-derive an archive file's chain and Merkle frontier from its own lines."""
    with path.open(encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        if header.get("format") != FORMAT:
            return False, "not an audit archive file"
        algorithm = header["algorithm"]
        prev = header["prev_chain_head"]
        frontier = Frontier.from_hex(algorithm, header["first_seq"] - 1, header["prev_frontier"])
        seq = header["first_seq"] - 1
        for line in fh:
            item = json.loads(line)
            if item.get("trailer"):
                ok = item["chain_head"] == prev and item["frontier"] == frontier.to_hex()
                if not ok:
                    return False, "the trailer's head does not match the events"
                if seq != header["last_seq"]:
                    return False, "the file ends before its last sequence number"
                return True, f"{seq - header['first_seq'] + 1} archived events verify"
            seal, row = item["seal"], item["event"]
            seq += 1
            row_values = dict(row)
            row_values["occurred_at"] = datetime.datetime.fromisoformat(
                row["occurred_at"].replace("Z", "+00:00")
            )
            entry = canonical.entry_hash(algorithm, row_values)
            link = canonical.chain_hash(
                algorithm, seq=seq, event_id=row["id"], entry=entry, prev=prev
            )
            if seal["seq"] != seq or seal["prev_hash"] != prev or entry != seal["entry_hash"]:
                return False, f"event #{row['id']} (seal {seq}) does not match"
            if link != seal["chain_hash"]:
                return False, f"the seal of event #{row['id']} (seal {seq}) does not match"
            frontier.append(bytes.fromhex(entry))
            prev = link
    return False, "the file has no trailer (truncated)"
