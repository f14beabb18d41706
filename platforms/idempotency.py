"""``Idempotency-Key``: the same POST twice does its work once.

A view method decorated with :func:`idempotent` runs like this:

1. No ``Idempotency-Key`` header → the view runs in one transaction of its
   own, committed only when it answers 2xx (an exception or a refusal rolls
   back everything it wrote).
2. A stored answer for (platform, key) younger than 24 h → the same request
   (method, path and body bytes) gets the stored status and **byte-identical**
   body back, with ``Idempotent-Replayed: true``; a different request is
   409 ``idempotency_key_reused``. Nothing runs.
3. Otherwise, inside one ``transaction.atomic``: the key is claimed by
   inserting its record first (a concurrent twin with the same key waits on
   the unique index right there), the view runs (its services join this
   transaction), and its rendered 2xx response is stored in the record before
   commit — so the change and the stored answer commit together or not at
   all. A twin that waited then finds the committed record and replays it.

Refusals (a raised ``BusinessError`` or a 4xx/5xx response) roll the claim
back with everything else and are not stored: nothing was done, so a retry
with the same key is evaluated afresh and can never do the work twice.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import ComputePlatform
from common.errors import BusinessError

from .api_errors import ApiCode
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
RETENTION = datetime.timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"
# The table name is the model's own (no input goes into the text).
_CLAIM_SQL = (
    f'INSERT INTO "{IdempotencyRecord._meta.db_table}" '  # noqa: S608
    "(platform_id, key, request_hash, response_status, response_body, created_at) "
    "VALUES (%s, %s, %s, 0, %s, %s) ON CONFLICT DO NOTHING"
)
_STORE_SQL = (
    f'UPDATE "{IdempotencyRecord._meta.db_table}" '  # noqa: S608
    "SET response_status = %s, response_body = %s WHERE platform_id = %s AND key = %s"
)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and the exact body bytes."""
    digest = hashlib.sha256()
    digest.update(method.upper().encode())
    digest.update(b"\n")
    digest.update(path.encode())
    digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key, or None; refuses keys outside 1–255 printable ASCII."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise BusinessError(
            ApiCode.VALIDATION_ERROR,
            _("Idempotency-Key must be 1–255 printable ASCII characters."),
            field=HEADER,
        )
    return key


def _render(response: HttpResponse) -> tuple[int, bytes]:
    if isinstance(response, Response):
        body = JSONRenderer().render(response.data)
    else:
        body = response.content
    return response.status_code, body


def _stored_response(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body),
        status=record.response_status,
        content_type="application/json",
    )
    response[REPLAYED_HEADER] = "true"
    return response


def _replay_or_conflict(record: IdempotencyRecord, fingerprint: str) -> HttpResponse:
    if record.request_hash != fingerprint:
        raise BusinessError(
            ApiCode.IDEMPOTENCY_KEY_REUSED,
            _("This Idempotency-Key was already used for a different request."),
            field=HEADER,
        )
    return _stored_response(record)


def _live_record(
    platform: ComputePlatform, key: str, now: datetime.datetime
) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(
        platform=platform, key=key, created_at__gte=now - RETENTION
    ).first()


def _claim(platform: ComputePlatform, key: str, fingerprint: str, now: datetime.datetime) -> bool:
    """Insert the key's record unless one is there; True when this request inserted it.

    ``ON CONFLICT DO NOTHING`` waits for a twin in flight with the same key on
    the unique index, then inserts (the twin rolled back) or does nothing (it
    committed) — no savepoint, no error to recover from. An expired record in
    the way (past its 24 h) is deleted and the insert tried once more.
    """
    for _attempt in range(2):
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, [platform.pk, key, fingerprint, b"", now])
            if cursor.rowcount == 1:
                return True
        expired = IdempotencyRecord.objects.filter(
            platform=platform, key=key, created_at__lt=now - RETENTION
        ).delete()[0]
        if not expired:
            return False
    return False


_in_transaction: ContextVar[bool] = ContextVar("idempotent_transaction", default=False)


def in_idempotent_transaction() -> bool:
    """True while a handler runs inside :func:`run_idempotent`'s transaction
    (with or without a key, every decorated handler runs in one).

    Whatever the handler raises leaves that transaction and rolls all of it
    back (the claim included), so an atomic block of the handler's own needs
    no savepoint to undo its part: two round trips fewer per request."""
    return _in_transaction.get()


class _NotStored(Exception):
    """Carries a non-2xx response out of the atomic block so it rolls back."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__("response not stored")
        self.response = response


def _run_in_one_transaction(handler: Callable[[], HttpResponse]) -> HttpResponse:
    """Run a handler without a key in one transaction that commits only a 2xx.

    Whatever the handler raises, and any refusal it answers, rolls back all
    it wrote: a usage batch's good records are never committed while the
    client hears an error (and retries them)."""
    try:
        with transaction.atomic():
            entered = _in_transaction.set(True)
            try:
                response = handler()
            finally:
                _in_transaction.reset(entered)
            if not 200 <= response.status_code < 300:
                raise _NotStored(response)
    except _NotStored as refused:
        return refused.response
    return response


def run_idempotent(
    *, request: Request, platform: ComputePlatform, handler: Callable[[], HttpResponse]
) -> HttpResponse:
    """Run ``handler`` at most once per (platform, Idempotency-Key); see the module docstring."""
    key = idempotency_key(request)
    if key is None:
        return _run_in_one_transaction(handler)
    now = timezone.now()
    fingerprint = request_fingerprint(request.method or "POST", request.path, request.body)
    try:
        with transaction.atomic():
            if not _claim(platform, key, fingerprint, now):
                # The key's record is there and committed (a twin in flight
                # was waited for): the same request gets its answer again.
                existing = _live_record(platform, key, timezone.now())
                if existing is None or existing.response_status == 0:
                    raise IntegrityError(f"Idempotency-Key {key!r} could not be claimed")
                return _replay_or_conflict(existing, fingerprint)
            entered = _in_transaction.set(True)
            try:
                response = handler()
            finally:
                _in_transaction.reset(entered)
            if not 200 <= response.status_code < 300:
                raise _NotStored(response)
            status, body = _render(response)
            with connection.cursor() as cursor:
                cursor.execute(_STORE_SQL, [status, body, platform.pk, key])
    except _NotStored as refused:
        return refused.response
    stored = HttpResponse(body, status=status, content_type="application/json")
    for name, value in response.items():
        if name.lower() not in ("content-type", "content-length"):
            stored[name] = value
    return stored


def _signed_platform(request: Request) -> ComputePlatform:
    verified = request.auth
    platform = getattr(verified, "platform", None)
    if not isinstance(platform, ComputePlatform):
        raise TypeError("@idempotent needs a view that requires a signed platform request")
    return platform


def idempotent(method: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorate a POST handler of a signed API view with Idempotency-Key handling."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return run_idempotent(
            request=request,
            platform=_signed_platform(request),
            handler=lambda: method(self, request, *args, **kwargs),
        )

    return wrapper


def idempotency_prune(*, now: datetime.datetime | None = None) -> int:
    """Delete records older than 24 h; return how many."""
    now = now or timezone.now()
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=now - RETENTION).delete()
    return deleted
