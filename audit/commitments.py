"""Committing many records to the audit chain with one event (a Merkle commitment).

A usage batch writes up to 1,000 ledger entries in one transaction. One
audit event per entry cost each record an event row, seven index entries
and, after the commit, a seal row: more than the entry itself. Instead the
batch's records are committed by one event, of type
:data:`audit.events.RECORDS_COMMITTED`, whose ``after`` holds

- ``kind``: what the records are (``vouchers.ledgerentry``), registered with
  :func:`register` by the app that owns them;
- ``ids``: their primary keys in increasing order, as runs ``[first, last]``;
- ``leaves``: each record's leaf hash, in the same order, concatenated and
  base64-encoded (a leaf is RFC 9162's ``HASH(0x00 || record)``, with the
  audit chain's own algorithm; the record is ``<id>:<content>``, its
  content the owner's canonical serialisation of everything but the id);
- ``root``: the RFC 9162 Merkle tree hash over those leaves, and ``count``.

The event is sealed into the hash chain like any other, so the leaves can
no longer change unnoticed; :func:`commitments_verify` recomputes each
record's leaf from the row as the database returns it and names the first
record that was changed, dropped or moved, and any record of a committed
kind that no event covers (or that two cover).

The owner of a kind registers a function that, given ids, returns each
record's content as the database stores it (:func:`register`); it
serialises with the same function that gives the leaves at write time, so
writer and verifier hash the same bytes.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import canonical
from .merkle import tree_hash

# kind -> (the records' contents by id, every id of the kind that must be
# covered: by its own event or by a commitment).
ContentsOf = Callable[[list[int]], dict[int, bytes]]
UncoveredOf = Callable[[set[int], datetime.datetime | None], Iterable[int]]


@dataclass(frozen=True)
class _Kind:
    contents_of: ContentsOf
    uncovered: UncoveredOf


_KINDS: dict[str, _Kind] = {}


def register(kind: str, *, contents_of: ContentsOf, uncovered: UncoveredOf) -> None:
    """Make ``kind`` committable. ``contents_of(ids)`` returns the content of
    each stored record (bytes); ``uncovered(committed_ids, since)`` the ids of
    records (created after ``since``, when given) that neither have an event of
    their own nor are in ``committed_ids``."""
    _KINDS[kind] = _Kind(contents_of, uncovered)


def leaf(algorithm: str, record_id: int, content: bytes) -> bytes:
    """A record's leaf: ``HASH(0x00 || "<id>:" || content)``."""
    return canonical.digest(algorithm, b"\x00%d:%s" % (record_id, content))


def id_runs(ids: Sequence[int]) -> list[list[int]]:
    """Increasing ids as runs of consecutive ones: [[first, last], ...]."""
    runs: list[list[int]] = []
    for n in ids:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


def ids_of_runs(runs: Iterable[Sequence[int]]) -> list[int]:
    return [n for first, last in runs for n in range(int(first), int(last) + 1)]


def commitment(kind: str, records: Sequence[tuple[int, bytes]]) -> dict[str, Any]:
    """The ``after`` of the event committing ``records`` ((id, content), in
    increasing id order)."""
    if kind not in _KINDS:
        raise ValueError(f"{kind!r} is not a registered kind of committed record")
    algorithm = canonical.hash_algorithm()
    leaves = [leaf(algorithm, pk, content) for pk, content in records]
    return {
        "kind": kind,
        "algorithm": algorithm,
        "count": len(records),
        "ids": id_runs([pk for pk, _content in records]),
        "leaves": base64.b64encode(b"".join(leaves)).decode("ascii"),
        "root": tree_hash(algorithm, leaves).hex(),
    }


@dataclass
class CommitmentCheck:
    """What :func:`commitments_verify` found: counts, and the first problem."""

    ok: bool = True
    events: int = 0
    records: int = 0
    problem: str = ""
    event_id: int | None = None
    record_id: int | None = None


def _leaves_of(after: dict[str, Any]) -> list[bytes]:
    raw = base64.b64decode(str(after.get("leaves", "")), validate=True)
    size = len(canonical.digest(str(after["algorithm"]), b""))
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def commitments_verify(
    *, since: datetime.datetime | None = None, chunk_size: int = 200
) -> CommitmentCheck:
    """Check every commitment event against the records it names, then that
    every record of a committed kind is covered exactly once.

    ``since``: records created before it are not required to be covered (their
    events went to an archive)."""
    from .events import RECORDS_COMMITTED
    from .models import AuditEvent

    check = CommitmentCheck()
    committed: dict[str, dict[int, int]] = {kind: {} for kind in _KINDS}
    events = (
        AuditEvent.objects.filter(event_type=RECORDS_COMMITTED)
        .order_by("id")
        .values_list("id", "after")
    )
    for event_id, stored in events.iterator(chunk_size=chunk_size):
        after: dict[str, Any] = stored if isinstance(stored, dict) else {}
        check.events += 1
        problem, record_id = _verify_one(event_id, after, committed)
        if problem:
            check.ok, check.problem = False, problem
            check.event_id, check.record_id = event_id, record_id
            return check
        check.records += int(after["count"])
    for kind, spec in _KINDS.items():
        for record_id in spec.uncovered(set(committed[kind]), since):
            check.ok = False
            check.problem = (
                f"{kind} #{record_id} is in no committed batch and has no audit event of its own"
            )
            check.record_id = record_id
            return check
    return check


def _verify_one(
    event_id: int, after: dict[str, Any], committed: dict[str, dict[int, int]]
) -> tuple[str, int | None]:
    """The first problem of one commitment event (and the record it names), or ""."""
    kind = after.get("kind")
    spec = _KINDS.get(str(kind))
    if spec is None:
        return f"event #{event_id} commits records of an unknown kind {kind!r}", None
    algorithm = str(after.get("algorithm"))
    try:
        if algorithm not in canonical.ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm!r}")
        ids = ids_of_runs(after.get("ids", []))
        leaves = _leaves_of(after)
    except (ValueError, TypeError, KeyError) as malformed:
        return f"event #{event_id} holds a malformed commitment: {malformed}", None
    if len(ids) != len(leaves) or len(ids) != int(after.get("count", -1)):
        return f"event #{event_id} names {len(ids)} records but holds {len(leaves)} leaves", None
    if tree_hash(algorithm, leaves).hex() != after.get("root"):
        return f"the Merkle root of event #{event_id} does not match its leaves", None
    seen = committed[str(kind)]
    for pk in ids:
        if pk in seen:
            return (
                f"{kind} #{pk} is committed twice: by event #{seen[pk]} and by event #{event_id}",
                pk,
            )
        seen[pk] = event_id
    stored = spec.contents_of(ids)
    position = {pk: i for i, pk in enumerate(ids)}
    for i, pk in enumerate(ids):
        content = stored.get(pk)
        if content is None:
            return (
                f"{kind} #{pk} (record {i + 1} of {len(ids)} committed by event #{event_id}) "
                "has been deleted",
                pk,
            )
        if leaf(algorithm, pk, content) == leaves[i]:
            continue
        # Moved: the row holds what was committed at another position of the
        # batch, under another id (ids and what they point to were swapped).
        for other, j in position.items():
            if other != pk and leaf(algorithm, other, content) == leaves[j]:
                return (
                    f"{kind} #{pk} (record {i + 1} of {len(ids)} committed by event "
                    f"#{event_id}) holds what was committed as #{other}: records were reordered",
                    pk,
                )
        return (
            f"{kind} #{pk} (record {i + 1} of {len(ids)} committed by event #{event_id}) "
            "was changed after it was committed",
            pk,
        )
    return "", None
