"""Ledger entries as records committed to the audit chain (``audit.commitments``).

A usage batch commits its ledger entries, with their redemptions, by one
event: each entry's leaf hashes :func:`entry_content` — the entry's columns
and the money facts of its redemption. Every other ledger entry has an
audit event of its own (``ledger.entry_recorded``); the verifier checks that
each entry is covered by exactly one of the two.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast

from audit import commitments, events
from audit.models import AuditEvent
from audit.object_types import object_type_of

from .models import LedgerEntry

KIND = "vouchers.ledgerentry"
# The object type of a commitment event (its object id: the first entry's).
BATCH_OBJECT_TYPE = "vouchers.ledgerbatch"

# The content of an entry's leaf, in this order (after its id): the entry's
# columns, then — for a charge — its redemption's money facts. Changing the
# list changes every leaf: it is the serialisation's version.
ENTRY_COLUMNS = (
    "voucher_id",
    "kind",
    "amount",
    "balance_change",
    "held_change",
    "balance_after",
    "held_after",
    "program_return",
    "redemption_id",
    "hold_id",
    "reversal_id",
    "platform_id",
    "actor_kind",
    "actor_label",
    "actor_user_id",
    "note",
    "created_at",
)
REDEMPTION_COLUMNS = (
    "reference",
    "occurred_at",
    "billed_amount",
    "rate_applied",
    "points_used",
    "covered",
    "payable_by_enterprise",
    "balance_after",
    "request_fingerprint",
)
_CENT = Decimal("0.01")
_RATE = Decimal("0.0001")
_UTC = datetime.UTC
_RATE_AT = REDEMPTION_COLUMNS.index("rate_applied")


@functools.lru_cache(maxsize=4096)
def _time(value: datetime.datetime) -> str:
    # Cached: every entry of a usage batch has the batch's creation time, and
    # its records' usage times repeat.
    return value.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_content(entry: Sequence[Any], redemption: Sequence[Any] | None) -> bytes:
    """An entry's content (``audit.commitments``): a JSON list of the values of
    :data:`ENTRY_COLUMNS` and, for a charge, of :data:`REDEMPTION_COLUMNS`
    (``entry`` and ``redemption`` give them in those orders), each in one
    fixed text form: decimals with the column's places, times in UTC to the
    microsecond.

    The text is what ``json.dumps(values, separators=(",", ":"),
    ensure_ascii=False)`` writes (``tests/vouchers/test_commitment_content.py``
    holds them equal), put together here value by value: a usage batch
    serialises 26,000 values while it holds its vouchers' locks, and
    ``json.dumps`` with these options builds a new encoder for each call."""
    parts = [_json(v) for v in entry]
    if redemption is not None:
        parts.append(
            "["
            + ",".join(
                _json(v, _RATE if i == _RATE_AT else _CENT) for i, v in enumerate(redemption)
            )
            + "]"
        )
    return ("[" + ",".join(parts) + "]").encode()


def _json(value: Any, places: Decimal = _CENT) -> str:
    """One value's JSON text in its content form (see :func:`entry_content`):
    a decimal as a string with ``places``."""
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is Decimal:
        # A decimal's text has no character that JSON escapes.
        return f'"{value.quantize(places)}"'
    if isinstance(value, datetime.datetime):
        return f'"{_time(value)}"'
    if kind is bool:
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_string = json.encoder.encode_basestring


def stored_contents(ids: list[int]) -> dict[int, bytes]:
    """The content of the stored entries with these ids."""
    wanted = ["id", *ENTRY_COLUMNS, *(f"redemption__{name}" for name in REDEMPTION_COLUMNS)]
    found: dict[int, bytes] = {}
    split = 1 + len(ENTRY_COLUMNS)
    at_redemption = ENTRY_COLUMNS.index("redemption_id")
    for row in LedgerEntry.objects.filter(pk__in=ids).order_by().values_list(*wanted):
        entry = row[1:split]
        found[row[0]] = entry_content(
            entry, row[split:] if entry[at_redemption] is not None else None
        )
    return found


def uncovered(committed: set[int], since: datetime.datetime | None) -> Iterable[int]:
    """Entries (created after ``since``) in no commitment and without an event."""
    own_event = AuditEvent.objects.filter(
        event_type=events.LEDGER_ENTRY_RECORDED,
        object_type=object_type_of(LedgerEntry),
        object_id=Cast(OuterRef("pk"), output_field=CharField()),
    )
    entries = LedgerEntry.objects.order_by("id").filter(~Exists(own_event))
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    for pk in entries.values_list("id", flat=True).iterator(chunk_size=5000):
        if pk not in committed:
            yield pk


def register() -> None:
    commitments.register(KIND, contents_of=stored_contents, uncovered=uncovered)
