"""Recording audit events, sealing them and signing checkpoints.

Every state-changing service calls :func:`audit_record` inside its own
transaction; that only inserts a row, so it never waits on another
transaction. After the commit a sealer (:func:`audit_seal_pending`) links
the committed events into the hash chain, one sealer at a time, and
:func:`audit_checkpoint_create` signs the tree head now and then.
"""

from __future__ import annotations

import datetime
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.bulk import copy_insert, insert_one

# Re-exported: the views that record an actor read the address through here.
from config.client_ip import client_ip as client_ip

from . import canonical, signing
from .merkle import Frontier
from .models import AuditArchive, AuditCheckpoint, AuditEvent, AuditSeal

logger = logging.getLogger(__name__)

# One sealer at a time: the key of PostgreSQL's advisory lock ("audit" in ASCII).
SEAL_LOCK_KEY = 0x6175646974
LOG_NAME = "compute-vouchers-audit"
# From how many events audit_record_all() sends them with COPY.
COPY_FROM = 20


@dataclass(frozen=True)
class Actor:
    """Who caused a change: a user, a platform key or a system task."""

    kind: str
    label: str
    user: Any = None
    source_ip: str | None = None
    evidence: dict[str, Any] | None = field(default=None)

    @classmethod
    def for_user(cls, user: Any, *, source_ip: str | None = None) -> Actor:
        if user is None or not getattr(user, "is_authenticated", False):
            return cls(kind=AuditEvent.ActorKind.ANONYMOUS, label="anonymous", source_ip=source_ip)
        return cls(kind=AuditEvent.ActorKind.USER, label=user.email, user=user, source_ip=source_ip)

    @classmethod
    def system(cls, task_name: str) -> Actor:
        return cls(kind=AuditEvent.ActorKind.SYSTEM, label=task_name)

    @classmethod
    def platform_key(
        cls, key_id: str, *, source_ip: str | None = None, evidence: dict[str, Any] | None = None
    ) -> Actor:
        return cls(
            kind=AuditEvent.ActorKind.PLATFORM_KEY,
            label=key_id,
            source_ip=source_ip,
            evidence=evidence,
        )


def object_type_of(obj: models.Model | type[models.Model]) -> str:
    """The ``object_type`` that events about ``obj`` (an instance or a model) carry.

    It is ``"app_label.model_name"``, unless the model declares a class
    attribute ``audit_object_type``: a model that moved to another app keeps
    the type string its events were recorded under (``oversight.AnomalyFlag``
    keeps ``"audit.anomalyflag"``), because that string is part of the
    hash-chained record and readers filter on it.
    """
    declared = getattr(obj, "audit_object_type", None)
    if declared:
        return str(declared)
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def model_of_object_type(object_type: str) -> type[models.Model] | None:
    """The model whose events carry ``object_type`` (see :func:`object_type_of`),
    or None when no installed model does."""
    for model in apps.get_models():
        if getattr(model, "audit_object_type", None) == object_type:
            return model
    app_label, _dot, model_name = object_type.partition(".")
    try:
        return apps.get_model(app_label, model_name)
    except (LookupError, ValueError):
        return None


def audit_event(
    *,
    actor: Actor,
    event_type: str,
    obj: models.Model | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    district_id: int | None = None,
    enterprise_id: int | None = None,
    platform_id: int | None = None,
    note: str = "",
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEvent:
    """Build (without saving) one event about ``obj``; see :func:`audit_record`."""
    if obj is not None:
        object_type = object_type_of(obj)
        object_id = str(obj.pk)
    return AuditEvent(
        # A None relation is the default: set through its descriptor it costs more.
        **({"actor_user": actor.user} if actor.user is not None else {}),
        event_type=event_type,
        actor_kind=actor.kind,
        actor_label=actor.label[:200],
        source_ip=actor.source_ip,
        object_type=object_type,
        object_id=object_id,
        object_repr=(str(obj) if obj is not None else object_repr or object_id)[:300],
        district_id=district_id,
        enterprise_id=enterprise_id,
        platform_id=platform_id,
        before=before,
        after=after,
        evidence=actor.evidence,
        note=note,
    )


def audit_record(**kwargs: Any) -> AuditEvent:
    """Append one event about ``obj``; call it inside the change's transaction.

    Takes the keyword arguments of :func:`audit_event`. ``object_type`` and
    ``object_id`` (and ``object_repr``) name the object when there is no
    instance (a failed login for an unknown address, an object just deleted).
    """
    return audit_record_all([audit_event(**kwargs)])[0]


def audit_record_all(events: list[AuditEvent]) -> list[AuditEvent]:
    """Append several built events (:func:`audit_event`) in one statement, in order.

    Many events (a usage batch's) go by COPY; a few by one INSERT, which is
    one round trip where COPY takes two (the ids, then the rows). Either
    way the sealer is asked to run after the commit.
    """
    if not events:
        return events
    if len(events) >= COPY_FROM:
        copy_insert(events)
    elif len(events) == 1:
        insert_one(events[0])
    else:
        AuditEvent.objects.bulk_create(events)
    _request_seal()
    return events


# --- Sealing ---------------------------------------------------------------


def _request_seal() -> None:
    """Ask for the sealer to run after this transaction commits, once per
    transaction however many events it records."""
    if not getattr(settings, "AUDIT_SEAL_AFTER_COMMIT", True):
        return
    conn = transaction.get_connection()
    if conn.in_atomic_block and any(entry[1] is _seal_after_commit for entry in conn.run_on_commit):
        return
    transaction.on_commit(_seal_after_commit, robust=True)


def _seal_after_commit() -> None:
    """Seal now (no broker: the demo) or queue one debounced sealing task."""
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", True):
        audit_seal_pending()
        return
    delay = int(getattr(settings, "AUDIT_SEAL_DELAY_SECONDS", 2))
    # Under load thousands of transactions commit per second; one queued
    # task per delay window seals them all.
    if cache.add("audit:seal-queued", 1, timeout=delay):
        from .tasks import audit_seal

        audit_seal.apply_async(countdown=delay)


def _try_seal_lock() -> bool:
    """Take the sealer's lock for this transaction, without waiting."""
    if connection.vendor != "postgresql":
        # SQLite serialises writers itself; a racing sealer fails on the
        # unique sequence number and rolls back.
        return True
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
        return bool(cur.fetchone()[0])


def _wait_seal_lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])


@dataclass(frozen=True)
class ChainHead:
    """Where the chain stands: the last sequence number and its chain hash."""

    seq: int
    chain_hash: str
    algorithm: str
    last_event_id: int


def chain_head() -> ChainHead:
    """The newest seal, or the archive's head when every seal was archived."""
    last = (
        AuditSeal.objects.order_by("-seq")
        .values("seq", "chain_hash", "algorithm", "event_id")
        .first()
    )
    if last is not None:
        return ChainHead(last["seq"], last["chain_hash"], last["algorithm"], last["event_id"])
    archive = AuditArchive.objects.order_by("-last_seq").first()
    if archive is not None:
        return ChainHead(
            archive.last_seq, archive.chain_head, archive.algorithm, archive.last_event_id
        )
    return ChainHead(0, canonical.GENESIS, canonical.hash_algorithm(), 0)


def _log_algorithm(head: ChainHead) -> str:
    configured = canonical.hash_algorithm()
    if head.seq and head.algorithm != configured:
        raise ImproperlyConfigured(
            f"The audit chain is hashed with {head.algorithm}; AUDIT_HASH_ALGORITHM says "
            f"{configured}. Archive the whole log before switching algorithms."
        )
    return configured


def audit_seal_pending(*, batch_size: int = 2000, full_scan: bool = False) -> int:
    """Seal committed, unsealed events into the hash chain; return how many.

    Runs in batches of ``batch_size``, each in its own short transaction that
    holds the sealer's advisory lock; when another sealer holds it, this one
    returns at once (that one will pick up what is pending). Without
    ``full_scan`` only events near the head of the log are looked at (the
    window ``AUDIT_SEAL_LOOKBACK`` event ids wide), which keeps each run
    cheap; a full scan also finds events whose transaction committed long
    after it started.
    """
    total = 0
    # Within one run, each batch starts after the last event the previous
    # batch sealed, so the search for unsealed events never rescans.
    after_id: int | None = None
    while True:
        try:
            sealed, after_id = _seal_batch(
                batch_size=batch_size, full_scan=full_scan, after_id=after_id
            )
        except IntegrityError:
            logger.info("another sealer sealed these events first")
            return total
        if sealed is None:
            return total
        total += sealed
        if sealed < batch_size:
            return total


@transaction.atomic
def _seal_batch(
    *, batch_size: int, full_scan: bool, after_id: int | None
) -> tuple[int | None, int | None]:
    if not _try_seal_lock():
        return None, after_id
    head = chain_head()
    algorithm = _log_algorithm(head)
    pending = AuditEvent.objects.filter(seal__isnull=True)
    if after_id is not None:
        pending = pending.filter(id__gt=after_id)
    elif not full_scan:
        newest = AuditSeal.objects.aggregate(m=Max("event_id"))["m"] or head.last_event_id
        lookback = int(getattr(settings, "AUDIT_SEAL_LOOKBACK", 20_000))
        pending = pending.filter(id__gt=newest - lookback)
    rows = list(pending.order_by("id").values(*canonical.EVENT_FIELDS_V1)[:batch_size])
    if not rows:
        return 0, after_id
    now = timezone.now()
    seq, prev = head.seq, head.chain_hash
    seals: list[tuple[Any, ...]] = []
    for row in rows:
        seq += 1
        entry = canonical.entry_hash(algorithm, row)
        link = canonical.chain_hash(algorithm, seq=seq, event_id=row["id"], entry=entry, prev=prev)
        seals.append((seq, row["id"], algorithm, canonical.FORMAT_VERSION, entry, prev, link, now))
        prev = link
    _insert_seals(seals)
    return len(seals), rows[-1]["id"]


_SEAL_COLUMNS = (
    "seq",
    "event_id",
    "algorithm",
    "format_version",
    "entry_hash",
    "prev_hash",
    "chain_hash",
    "sealed_at",
)


def _insert_seals(seals: list[tuple[Any, ...]]) -> None:
    """Insert seal rows; on PostgreSQL with one prepared statement (the
    sealer's hot loop: it is several times faster than the ORM's bulk insert)."""
    if connection.vendor != "postgresql":
        AuditSeal.objects.bulk_create(
            [AuditSeal(**dict(zip(_SEAL_COLUMNS, values, strict=True))) for values in seals]
        )
        return
    table = AuditSeal._meta.db_table
    columns = ", ".join(_SEAL_COLUMNS)
    marks = ", ".join(["%s"] * len(_SEAL_COLUMNS))
    with connection.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", seals)  # noqa: S608


# --- Checkpoints -------------------------------------------------------------


def _utc_text(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def checkpoint_body(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """The signed fields of a checkpoint, as published."""
    return {
        "log": LOG_NAME,
        "algorithm": checkpoint.algorithm,
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "chain_head": checkpoint.chain_head,
        "created_at": _utc_text(checkpoint.created_at),
        "key_id": checkpoint.key_id,
    }


def checkpoint_message(body: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: its body as canonical JSON."""
    signed = {
        k: body[k]
        for k in (
            "log",
            "algorithm",
            "tree_size",
            "root_hash",
            "chain_head",
            "created_at",
            "key_id",
        )
    }
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _frontier_at(size: int, algorithm: str) -> Frontier:
    """The Merkle frontier after ``size`` leaves, from the nearest stored one."""
    start: Frontier | None = None
    cp = (
        AuditCheckpoint.objects.filter(tree_size__lte=size, algorithm=algorithm)
        .order_by("-tree_size", "-id")
        .first()
    )
    if cp is not None:
        start = Frontier.from_hex(algorithm, cp.tree_size, cp.frontier)
    archive = AuditArchive.objects.filter(last_seq__lte=size).order_by("-last_seq").first()
    if archive is not None and (start is None or archive.last_seq > start.size):
        start = Frontier.from_hex(archive.algorithm, archive.last_seq, archive.frontier)
    if start is None:
        start = Frontier(algorithm)
    leaves = (
        AuditSeal.objects.filter(seq__gt=start.size, seq__lte=size)
        .order_by("seq")
        .values_list("entry_hash", flat=True)
    )
    for leaf in leaves.iterator(chunk_size=5000):
        start.append(bytes.fromhex(leaf))
    return start


@transaction.atomic
def audit_checkpoint_create(*, force: bool = False) -> AuditCheckpoint | None:
    """Sign the current tree head; return the newest checkpoint.

    Nothing new is signed when the log has not grown since the last
    checkpoint (unless ``force``). Returns None while the log is empty.
    """
    _wait_seal_lock()
    head = chain_head()
    if head.seq == 0:
        return None
    algorithm = _log_algorithm(head)
    latest = AuditCheckpoint.objects.order_by("-tree_size", "-id").first()
    if latest is not None and latest.tree_size == head.seq and not force:
        return latest
    frontier = _frontier_at(head.seq, algorithm)
    checkpoint = AuditCheckpoint(
        tree_size=head.seq,
        algorithm=algorithm,
        root_hash=frontier.root().hex(),
        chain_head=head.chain_hash,
        frontier=frontier.to_hex(),
        created_at=timezone.now(),
    )
    checkpoint.key_id = signing.key_id(signing.signing_key().public_key())
    body = checkpoint_body(checkpoint)
    checkpoint.key_id, checkpoint.signature = signing.sign(checkpoint_message(body))
    checkpoint.save()
    return checkpoint


def checkpoint_export(checkpoints: list[AuditCheckpoint]) -> dict[str, Any]:
    """A JSON document of signed checkpoints and the public keys to check them."""
    keys = signing.trusted_public_keys()
    used = {cp.key_id for cp in checkpoints}
    return {
        "format": f"{LOG_NAME}-checkpoints/1",
        "public_keys": {kid: signing.public_key_pem(k) for kid, k in keys.items() if kid in used},
        "checkpoints": [{**checkpoint_body(cp), "signature": cp.signature} for cp in checkpoints],
    }
