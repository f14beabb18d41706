"""Re-deriving the audit chain and its checkpoints from the stored events.

:func:`audit_verify` reads every seal in sequence order with its event,
recomputes the entry hash from the event's columns, the chain link and the
Merkle tree, and checks every checkpoint (stored or published) against the
recomputed head and its Ed25519 signature, then every record that a batch
event commits (``audit.commitments``) against the event's leaves. It stops
at the first mismatch and names the event (and the record) there.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from . import canonical, signing
from .commitments import commitments_verify
from .merkle import Frontier
from .models import AuditArchive, AuditCheckpoint, AuditEvent, AuditSeal
from .services import checkpoint_message

# Sealing follows the commit within seconds; an event unsealed for longer
# than this means the sealer is not running.
STALE_AFTER = datetime.timedelta(minutes=10)


@dataclass
class VerificationResult:
    """What the verifier found: counts, and the first problem if any."""

    ok: bool = True
    sealed: int = 0
    unsealed: int = 0
    checkpoints: int = 0
    archived_up_to: int = 0
    # Records committed by batch events (audit.commitments), and those events.
    committed_records: int = 0
    commitments: int = 0
    problem: str = ""
    event_id: int | None = None
    seq: int | None = None
    warnings: list[str] = field(default_factory=list)

    def fail(self, problem: str, *, event_id: int | None, seq: int | None) -> VerificationResult:
        self.ok = False
        self.problem = problem
        self.event_id = event_id
        self.seq = seq
        return self


@dataclass
class _Checkpoint:
    label: str
    body: dict[str, Any]
    signature: str


def _stored_checkpoints() -> list[_Checkpoint]:
    from .services import checkpoint_body

    return [
        _Checkpoint(f"checkpoint #{cp.pk}", checkpoint_body(cp), cp.signature)
        for cp in AuditCheckpoint.objects.order_by("tree_size", "id")
    ]


def published_checkpoints(document: dict[str, Any], label: str) -> list[_Checkpoint]:
    """Checkpoints from an exported document (``audit_checkpoint --export``)."""
    return [
        _Checkpoint(
            f"published checkpoint of size {item['tree_size']} ({label})",
            item,
            str(item.get("signature", "")),
        )
        for item in document.get("checkpoints", [])
    ]


def _check_signature(cp: _Checkpoint, keys: dict[str, Any]) -> str:
    """Empty when the checkpoint's signature is good, else the reason."""
    key = keys.get(str(cp.body.get("key_id", "")))
    if key is None:
        return f"{cp.label} is signed by an unknown key {cp.body.get('key_id')!r}"
    try:
        message = checkpoint_message(cp.body)
    except KeyError as exc:
        return f"{cp.label} lacks the field {exc}"
    if not signing.verify(key, message, cp.signature):
        return f"{cp.label} has a signature that does not verify"
    return ""


def audit_verify(
    *, chunk_size: int = 5000, extra_checkpoints: list[_Checkpoint] | None = None
) -> VerificationResult:
    """Re-derive the chain and every checkpoint; stop at the first mismatch."""
    result = VerificationResult()
    keys = signing.trusted_public_keys()
    checkpoints = _stored_checkpoints() + list(extra_checkpoints or [])
    result.checkpoints = len(checkpoints)
    for cp in checkpoints:
        problem = _check_signature(cp, keys)
        if problem:
            return result.fail(problem, event_id=None, seq=None)
    by_size: dict[int, list[_Checkpoint]] = {}
    for cp in checkpoints:
        by_size.setdefault(int(cp.body["tree_size"]), []).append(cp)

    archive = AuditArchive.objects.order_by("-last_seq").first()
    first_seal = AuditSeal.objects.order_by("seq").values("algorithm").first()
    if archive is not None:
        algorithm = archive.algorithm
        seq, prev = archive.last_seq, archive.chain_head
        frontier = Frontier.from_hex(algorithm, archive.last_seq, archive.frontier)
        result.archived_up_to = archive.last_seq
    else:
        algorithm = first_seal["algorithm"] if first_seal else canonical.hash_algorithm()
        seq, prev = 0, canonical.GENESIS
        frontier = Frontier(algorithm)
    for size, cps in by_size.items():
        if size < seq:
            continue  # archived range: only the signature can still be checked
        if size == seq and seq:
            for cp in cps:
                if cp.body["chain_head"] != prev or cp.body["root_hash"] != frontier.root().hex():
                    return result.fail(
                        f"{cp.label} (size {size}) does not match the archived head",
                        event_id=archive.last_event_id if archive else None,
                        seq=size,
                    )

    # The first event after the last checkpoint that matched: where a
    # re-sealed (rewritten) stretch of the log can begin at the earliest.
    range_start: tuple[int, int] | None = None
    last_seen_event: int | None = None
    while True:
        seals = list(
            AuditSeal.objects.filter(seq__gt=seq)
            .order_by("seq")
            .values("seq", "event_id", "algorithm", "entry_hash", "prev_hash", "chain_hash")[
                :chunk_size
            ]
        )
        if not seals:
            break
        events = {
            row["id"]: row
            for row in AuditEvent.objects.filter(id__in=[s["event_id"] for s in seals]).values(
                *canonical.EVENT_FIELDS_V1
            )
        }
        for s in seals:
            expected = seq + 1
            event_id = s["event_id"]
            if s["seq"] != expected:
                return result.fail(
                    f"seals {expected}–{s['seq'] - 1} are missing from the chain; "
                    f"event #{event_id} (seal {s['seq']}) does not follow the seal before it",
                    event_id=event_id,
                    seq=expected,
                )
            if range_start is None:
                range_start = (expected, event_id)
            row = events.get(event_id)
            if row is None:
                return result.fail(
                    f"event #{event_id} (seal {expected}) has been deleted",
                    event_id=event_id,
                    seq=expected,
                )
            if s["algorithm"] != algorithm:
                return result.fail(
                    f"event #{event_id} (seal {expected}) is sealed with {s['algorithm']}, "
                    f"the chain with {algorithm}",
                    event_id=event_id,
                    seq=expected,
                )
            if s["prev_hash"] != prev:
                return result.fail(
                    f"event #{event_id} (seal {expected}) does not follow the seal before it: "
                    "seals were reordered, removed or rewritten",
                    event_id=event_id,
                    seq=expected,
                )
            entry = canonical.entry_hash(algorithm, row)
            if entry != s["entry_hash"]:
                return result.fail(
                    f"event #{event_id} (seal {expected}) was changed after it was sealed",
                    event_id=event_id,
                    seq=expected,
                )
            link = canonical.chain_hash(
                algorithm, seq=expected, event_id=event_id, entry=entry, prev=prev
            )
            if link != s["chain_hash"]:
                return result.fail(
                    f"the seal of event #{event_id} (seal {expected}) was rewritten",
                    event_id=event_id,
                    seq=expected,
                )
            frontier.append(bytes.fromhex(entry))
            seq, prev = expected, link
            last_seen_event = event_id
            result.sealed += 1
            for cp in by_size.get(seq, []):
                if cp.body.get("algorithm") != algorithm:
                    return result.fail(
                        f"{cp.label} names the algorithm {cp.body.get('algorithm')}, "
                        f"the chain uses {algorithm}",
                        event_id=None,
                        seq=seq,
                    )
                if cp.body["chain_head"] != prev or cp.body["root_hash"] != frontier.root().hex():
                    first_seq, first_event = range_start
                    return result.fail(
                        f"{cp.label} (size {seq}) does not match the log: the events sealed "
                        f"from seal {first_seq} to {seq} were rewritten and re-sealed; "
                        f"the first of them is event #{first_event}",
                        event_id=first_event,
                        seq=first_seq,
                    )
            if seq in by_size:
                range_start = None

    beyond = [cp for size, cps in by_size.items() if size > seq for cp in cps]
    if beyond:
        cp = min(beyond, key=lambda c: int(c.body["tree_size"]))
        return result.fail(
            f"{cp.label} covers {cp.body['tree_size']} events but the chain ends at seal {seq}"
            f" (event #{last_seen_event}): sealed events after it have been removed",
            event_id=last_seen_event,
            seq=seq + 1,
        )
    # The records that batch events commit (a usage batch's ledger entries):
    # each recomputed from its row against the event's leaves, and every
    # record of a committed kind covered exactly once.
    check = commitments_verify(since=archive.before if archive is not None else None)
    result.commitments, result.committed_records = check.events, check.records
    if not check.ok:
        return result.fail(check.problem, event_id=check.event_id, seq=None)
    unsealed = AuditEvent.objects.filter(seal__isnull=True)
    result.unsealed = unsealed.count()
    stale = unsealed.filter(occurred_at__lt=timezone.now() - STALE_AFTER).count()
    if stale:
        result.warnings.append(
            f"{stale} events are older than {int(STALE_AFTER.total_seconds() // 60)} minutes "
            "and still unsealed: is the sealing task running? (python manage.py seal_audit "
            "--full-scan seals them)"
        )
    return result
