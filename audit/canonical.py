"""The canonical serialisation of an audit event, and the hashes over it.

An event is hashed from the values the database returns for it, never from
the object that was saved, so the sealer and the verifier always see the same
bytes. The serialisation is JSON with sorted keys, no insignificant
whitespace, UTF-8, datetimes in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` and
decimals as strings; it covers every column of the event. Adding a column to
:class:`~audit.models.AuditEvent` needs a new ``FORMAT_VERSION`` (a test
checks that the list below still names every column).
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from django.conf import settings

FORMAT_VERSION = 1

# Every column of audit_auditevent, by attribute name, in format version 1.
EVENT_FIELDS_V1 = (
    "id",
    "occurred_at",
    "event_type",
    "actor_kind",
    "actor_user_id",
    "actor_label",
    "source_ip",
    "object_type",
    "object_id",
    "object_repr",
    "district_id",
    "enterprise_id",
    "platform_id",
    "before",
    "after",
    "evidence",
    "note",
)

ALGORITHMS = ("sha256", "sm3")
# The chain starts from a fixed, all-zero head.
GENESIS = "0" * 64


def hash_algorithm() -> str:
    """The configured algorithm (``AUDIT_HASH_ALGORITHM``), checked."""
    name = str(getattr(settings, "AUDIT_HASH_ALGORITHM", "sha256")).lower()
    if name not in ALGORITHMS:
        raise ValueError(f"AUDIT_HASH_ALGORITHM must be one of {ALGORITHMS}, not {name!r}")
    return name


def digest(algorithm: str, data: bytes) -> bytes:
    """Hash ``data`` with SHA-256 or SM3 (GB/T 32905-2016)."""
    if algorithm == "sha256":
        return hashlib.sha256(data).digest()
    if algorithm == "sm3":
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()
    raise ValueError(f"unknown hash algorithm {algorithm!r}")


def _plain(value: Any) -> Any:
    """Turn a column value into a JSON value with one fixed text form."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN has no JSON form
        return "NaN"
    return value


def canonical_bytes(row: dict[str, Any]) -> bytes:
    """The canonical serialisation of an event given as a column → value dict."""
    payload = {name: _plain(row.get(name)) for name in EVENT_FIELDS_V1}
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(algorithm: str, row: dict[str, Any]) -> str:
    """The event's leaf hash: RFC 9162 ``HASH(0x00 || entry)``, in hex."""
    return digest(algorithm, b"\x00" + canonical_bytes(row)).hex()


def chain_hash(algorithm: str, *, seq: int, event_id: int, entry: str, prev: str) -> str:
    """Link one seal to the one before it; covers the seal's own columns too."""
    text = f"{seq}:{event_id}:{entry}:{prev}".encode("ascii")
    return digest(algorithm, b"\x02" + text).hex()
