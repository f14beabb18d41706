"""RFC 9421 HTTP Message Signatures (Ed25519) on incoming API requests.

What a request must carry (``platform-api.md``): ``Signature-Input`` and
``Signature`` with one signature by a registered platform key (others, such
as an egress gateway's, may stand beside it and are kept, not verified) whose
parameters are ``alg="ed25519"``, ``keyid``, ``created`` and ``nonce``,
covering at least ``"@method"``, ``"@authority"`` and ``"@target-uri"``, and
the ``Content-Digest`` (RFC 9530, checked against the raw body by the one
rule of :mod:`platforms.body_digest`) whenever one is sent or the body is not
empty. The stock ``requests-http-signature`` client with ``use_nonce=True``
sends exactly this.

Each refusal has its own stable code: ``signature_missing``,
``signature_invalid``, ``key_unknown``, ``key_revoked``, ``signature_stale``
(``created`` more than ``PLATFORM_SIGNATURE_MAX_AGE`` = 300 s old or more than
``PLATFORM_SIGNATURE_MAX_FUTURE`` = 30 s ahead), ``nonce_replayed`` (the same
nonce for the same key while a signature carrying it could still be
accepted: at least 300 s from first use, and until ``created`` + 300 s + 30 s)
and ``platform_suspended`` (403).

Behind a TLS-terminating proxy. ``@authority`` and ``@target-uri`` must be
what the *client* saw (``https://api.example.cn/api/v1/...``), not what the
proxy forwarded (``http://127.0.0.1:8000/...``). They are taken from
``request.get_host()`` and ``request.scheme``, so set ``BEHIND_TLS_PROXY=1``
(the default in production mode): it turns on
``SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")`` and
``USE_X_FORWARDED_HOST = True``. The proxy must then *set* (not append to)
``X-Forwarded-Proto`` and ``X-Forwarded-Host``, e.g. in nginx::

    proxy_set_header Host              $host;
    proxy_set_header X-Forwarded-Host  $host:$server_port;  # omit the port if 443
    proxy_set_header X-Forwarded-Proto $scheme;

and pass the request URI unchanged (``proxy_pass http://app;`` without a
path), because the path and query are signed byte for byte.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import math
from dataclasses import dataclass
from typing import Any

import http_sf
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from http_message_signatures import (
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from accounts.models import ComputePlatform
from common.errors import BusinessError

from .api_errors import ApiCode
from .body_digest import BodyDigestMismatch, BodyNotCovered, covered_body_digest_verify
from .keys import load_ed25519_public_key
from .models import PlatformKey, SignatureNonce
from .selectors import platform_key_for_verification

DEFAULT_MAX_AGE_SECONDS = 300
DEFAULT_MAX_FUTURE_SECONDS = 30
REQUIRED_COMPONENTS = ("@method", "@authority", "@target-uri")
ALGORITHM = algorithms.ED25519
MAX_NONCE_LENGTH = 200


def max_age() -> datetime.timedelta:
    """How long after its ``created`` time a signature is accepted
    (``PLATFORM_SIGNATURE_MAX_AGE`` seconds, 300 by the contract)."""
    seconds = getattr(settings, "PLATFORM_SIGNATURE_MAX_AGE", DEFAULT_MAX_AGE_SECONDS)
    return datetime.timedelta(seconds=int(seconds))


def max_future() -> datetime.timedelta:
    """How far ahead of the server's clock ``created`` may lie
    (``PLATFORM_SIGNATURE_MAX_FUTURE`` seconds, 30 by the contract)."""
    seconds = getattr(settings, "PLATFORM_SIGNATURE_MAX_FUTURE", DEFAULT_MAX_FUTURE_SECONDS)
    return datetime.timedelta(seconds=int(seconds))


def nonce_kept_until(*, created: int, first_used: datetime.datetime) -> datetime.datetime:
    """Until when a nonce used at ``first_used`` in a signature of ``created`` is refused again.

    As long as the signature could still be accepted — its ``created`` plus
    the maximum age, plus the future skew as a margin for servers whose
    clocks differ — and at least the maximum age after its first use (the
    contract's "the same nonce inside the window", whatever ``created`` a
    second signature claims), whichever is later. Kept only from first use
    would let a signature ``created`` ahead of the clock be replayed once
    the nonce was forgotten but the signature was still fresh.
    """
    created_at = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return max(first_used + max_age(), created_at + max_age() + max_future())


class _Verifier(HTTPMessageVerifier):
    """The library's verifier with the configured future-skew tolerance.

    The age and skew policy is checked before this runs (so that a stale
    signature gets its own code); this only keeps the library's own check
    from being stricter than ours.
    """

    require_created = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_clock_skew = max_future()


@dataclass(frozen=True)
class VerifiedRequest:
    """An accepted signature: who signed, and what to keep as evidence."""

    key: PlatformKey
    platform: ComputePlatform
    signature_input: str
    signature: str
    content_digest: str | None
    created: int
    nonce: str
    method: str
    target_uri: str
    label: str = ""
    covered_components: tuple[tuple[str, str], ...] = ()

    @property
    def key_id(self) -> str:
        return self.key.key_id

    def evidence(self) -> dict[str, Any]:
        """The signed request's headers and key id, enough to re-verify it later
        against the platform's public key together with the stored body
        (:func:`platforms.evidence.evidence_verify`).

        ``covered_components`` is the signature base as ``[id, value]`` pairs
        in signed order (a list, since JSON objects in PostgreSQL do not keep
        key order).
        """
        return {
            "label": self.label,
            "covered_components": [list(pair) for pair in self.covered_components],
            "key_id": self.key.key_id,
            "signature_input": self.signature_input,
            "signature": self.signature,
            "content_digest": self.content_digest,
            "created": self.created,
            "nonce": self.nonce,
            "method": self.method,
            "target_uri": self.target_uri,
        }


@dataclass(frozen=True)
class _SignedMessage:
    """The request as the signature library reads it: method, absolute URL, header fields."""

    method: str
    url: str
    headers: Any


def _refuse(code: str, message: Any) -> BusinessError:
    return BusinessError(code, message)


def request_target_uri(request: HttpRequest) -> str:
    """The absolute URI the client requested, as it appears on the wire.

    The path and query are taken raw from the server (gunicorn's
    ``RAW_URI``, uWSGI's ``REQUEST_URI``) when it offers them, since the
    client signed them as sent; otherwise Django's re-encoding of the path.
    Scheme and host honour the proxy settings (see the module docstring).
    """
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return f"{request.scheme}://{request.get_host()}{raw}"
    return request.build_absolute_uri()


@dataclass(frozen=True)
class _SignatureMember:
    """One labelled signature of ``Signature-Input``: its covered components and parameters."""

    label: str
    components: list[Any]
    params: dict[str, Any]


def _is_chunked_without_length(request: HttpRequest) -> bool:
    encoding = str(request.META.get("HTTP_TRANSFER_ENCODING") or "").lower()
    return "chunked" in encoding and not request.META.get("CONTENT_LENGTH")


def request_body(request: HttpRequest) -> bytes:
    """The request body as sent, also when it came chunked (no ``Content-Length``).

    Django reads a body only up to its ``Content-Length``, so a chunked body
    (Node's ``fetch`` with a stream sends one) would read as empty. When the
    server has already undone the chunking and marks the input as ending
    with the body (``wsgi.input_terminated``: gunicorn), the body is read to
    its end, within ``DATA_UPLOAD_MAX_MEMORY_SIZE``, and handed on to the
    parsers with its length. Under a server that does not (Django's
    development server) a chunked body cannot be read safely and is refused
    with its own message. Behind the shipped nginx this never arises: it
    buffers the body and forwards it with a ``Content-Length``.
    """
    if not _is_chunked_without_length(request):
        return request.body
    if getattr(request, "_body", None) is not None:
        return bytes(request._body)
    if not request.META.get("wsgi.input_terminated"):
        raise _refuse(
            ApiCode.VALIDATION_ERROR,
            _(
                "A chunked request body (Transfer-Encoding: chunked, no Content-Length) "
                "cannot be read by this server; send the body with a Content-Length."
            ),
        )
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    stream = request.META["wsgi.input"]
    chunks = []
    size = 0
    while True:
        chunk = stream.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if limit is not None and size > limit:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        chunks.append(chunk)
    body = b"".join(chunks)
    # From here on the request is one with a Content-Length: Django's and
    # the REST framework's parsers read the body just read.
    request._body = body
    request._stream = io.BytesIO(body)
    request._read_started = True  # type: ignore[attr-defined]
    request.META["CONTENT_LENGTH"] = str(len(body))
    return body


def _parse_dictionary(value: str, header: str) -> dict[str, Any]:
    try:
        parsed = http_sf.parse(value.encode("latin-1"), tltype="dictionary")
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise _refuse(
            ApiCode.SIGNATURE_INVALID,
            _("%(header)s is not a valid structured field.") % {"header": header},
        ) from exc
    if not isinstance(parsed, dict) or not parsed:
        raise _refuse(
            ApiCode.SIGNATURE_INVALID,
            _("%(header)s is not a valid structured field.") % {"header": header},
        )
    return parsed


def _parse_signature_input(value: str) -> list[_SignatureMember]:
    """Every signature the request carries (RFC 9421 §4.3 allows several), or ``signature_invalid``."""
    members = []
    for label, member in _parse_dictionary(value, "Signature-Input").items():
        components: Any = member[0] if isinstance(member, tuple) else None
        params: Any = member[1] if isinstance(member, tuple) else None
        if not isinstance(components, list) or not isinstance(params, dict):
            raise _refuse(
                ApiCode.SIGNATURE_INVALID, _("Signature-Input must list the covered components.")
            )
        members.append(_SignatureMember(label=label, components=components, params=dict(params)))
    return members


def _platform_signature(
    members: list[_SignatureMember],
) -> tuple[_SignatureMember, PlatformKey | None]:
    """The signature to verify, and its key if registered.

    One signature: that one. Several (a gateway may add its own beside the
    platform's, RFC 9421 §4.3): the one whose ``keyid`` is a registered
    platform key; the others are not ours to verify and stay in the headers
    kept as evidence.
    """
    if len(members) == 1:
        member = members[0]
        key_id = member.params.get("keyid")
        key = platform_key_for_verification(key_id) if isinstance(key_id, str) and key_id else None
        return member, key
    found = []
    for member in members:
        key_id = member.params.get("keyid")
        if isinstance(key_id, str) and key_id:
            key = platform_key_for_verification(key_id)
            if key is not None:
                found.append((member, key))
    if not found:
        raise _refuse(
            ApiCode.KEY_UNKNOWN,
            _("None of the request's signatures names a key registered for a platform."),
        )
    if len(found) > 1:
        raise _refuse(
            ApiCode.SIGNATURE_INVALID,
            _("Send exactly one signature made with a platform key."),
        )
    return found[0]


def _check_component_names(member: _SignatureMember) -> None:
    """Covered component names must be lower case (RFC 9421 §2.1), said as such."""
    for item in member.components:
        name = item[0] if isinstance(item, tuple) else None
        if not isinstance(name, str):
            raise _refuse(
                ApiCode.SIGNATURE_INVALID, _("Signature-Input must list the covered components.")
            )
        if name != name.lower():
            raise _refuse(
                ApiCode.SIGNATURE_INVALID,
                _(
                    'Covered component names must be lower case (RFC 9421): sign "%(lower)s", '
                    'not "%(name)s".'
                )
                % {"lower": name.lower(), "name": name},
            )


def _only(header_value: str, header: str, label: str) -> str:
    """``header_value`` (a signature dictionary) reduced to its ``label`` member."""
    parsed = _parse_dictionary(header_value, header)
    if label not in parsed:
        raise _refuse(
            ApiCode.SIGNATURE_INVALID,
            _("Signature-Input and Signature name different signatures."),
        )
    return http_sf.ser({label: parsed[label]})


def _with_one_signature(headers: Any, signature_input: str, signature: str) -> dict[str, str]:
    """The request's header fields with only the signature being verified.

    The library verifies every signature it is shown (it reads nothing but
    ``items()``); the others (a gateway's) are not ours to verify.
    """
    fields = dict(headers.items())
    for name in fields:
        if name.lower() == "signature-input":
            fields[name] = signature_input
        elif name.lower() == "signature":
            fields[name] = signature
    return fields


def _check_parameters(params: dict[str, Any], now: datetime.datetime) -> tuple[str, int, str]:
    key_id = params.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise _refuse(ApiCode.SIGNATURE_INVALID, _("The signature has no keyid parameter."))
    if params.get("alg") != ALGORITHM.algorithm_id:
        raise _refuse(ApiCode.SIGNATURE_INVALID, _('The signature must declare alg="ed25519".'))
    created = params.get("created")
    if isinstance(created, bool) or not isinstance(created, int):
        raise _refuse(ApiCode.SIGNATURE_INVALID, _("The signature has no created parameter."))
    nonce = params.get("nonce")
    if not isinstance(nonce, str) or not nonce or len(nonce) > MAX_NONCE_LENGTH:
        raise _refuse(
            ApiCode.SIGNATURE_INVALID,
            _("The signature needs a nonce parameter (1–200 characters)."),
        )
    return key_id, created, nonce


def _check_created(created: int, now: datetime.datetime) -> None:
    try:
        created_at = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise _refuse(
            ApiCode.SIGNATURE_STALE, _("The signature's created time is out of range.")
        ) from exc
    if created_at < now - max_age():
        raise _refuse(
            ApiCode.SIGNATURE_STALE,
            _(
                "The signature was created more than %(seconds)s seconds ago; "
                "sign the request again."
            )
            % {"seconds": int(max_age().total_seconds())},
        )
    if created_at > now + max_future():
        raise _refuse(
            ApiCode.SIGNATURE_STALE,
            _(
                "The signature was created more than %(seconds)s seconds in the future; "
                "check your clock."
            )
            % {"seconds": int(max_future().total_seconds())},
        )


def verify_request(
    request: HttpRequest, *, now: datetime.datetime | None = None
) -> VerifiedRequest:
    """Verify the request's signature and body digest, and consume its nonce.

    Raises :class:`BusinessError` with the contract's code on any refusal.
    """
    now = now or timezone.now()
    headers = request.headers
    signature_input = headers.get("Signature-Input")
    signature = headers.get("Signature")
    if not signature_input or not signature:
        raise _refuse(
            ApiCode.SIGNATURE_MISSING,
            _("This API needs signed requests (RFC 9421 Signature-Input and Signature headers)."),
        )
    chosen, key = _platform_signature(_parse_signature_input(signature_input))
    key_id, created, nonce = _check_parameters(chosen.params, now)
    if key is None:
        raise _refuse(ApiCode.KEY_UNKNOWN, _("No key with this key id is registered."))
    if key.is_revoked():
        raise _refuse(ApiCode.KEY_REVOKED, _("This key has been revoked; sign with a current key."))
    _check_created(created, now)
    _check_component_names(chosen)

    body = request_body(request)
    try:
        target_uri = request_target_uri(request)
        message = _SignedMessage(
            method=request.method or "GET",
            url=target_uri,
            headers=_with_one_signature(
                headers,
                _only(signature_input, "Signature-Input", chosen.label),
                _only(signature, "Signature", chosen.label),
            ),
        )
        public_key = load_ed25519_public_key(key.public_key_pem)
        verifier = _Verifier(
            signature_algorithm=ALGORITHM, key_resolver=_OneKey(key_id, public_key)
        )
        results = verifier.verify(message, max_age=None, require_components=REQUIRED_COMPONENTS)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        raise _refuse(ApiCode.SIGNATURE_INVALID, _invalid_message(exc)) from exc
    try:
        covered_body_digest_verify(
            results[0].covered_components.items(),
            body,
            digest_field_sent="Content-Digest" in headers,
        )
    except BodyDigestMismatch as exc:
        raise _refuse(
            ApiCode.SIGNATURE_INVALID, _("Content-Digest does not match the request body.")
        ) from exc
    except BodyNotCovered as exc:
        raise _refuse(
            ApiCode.SIGNATURE_INVALID,
            _("A request with a body must carry a signed Content-Digest (sha-256)."),
        ) from exc

    if key.platform.status == ComputePlatform.Status.SUSPENDED:
        raise _refuse(
            ApiCode.PLATFORM_SUSPENDED,
            _("This platform is suspended; the API refuses its requests."),
        )
    if not nonce_consume(key, nonce, now=now, created=created):
        raise _refuse(
            ApiCode.NONCE_REPLAYED,
            _(
                "This nonce was already used with this key, and the signature it came with "
                "could still be accepted; sign each request with a new nonce."
            ),
        )
    return VerifiedRequest(
        key=key,
        platform=key.platform,
        signature_input=signature_input,
        signature=signature,
        content_digest=headers.get("Content-Digest"),
        created=created,
        nonce=nonce,
        method=request.method or "GET",
        target_uri=target_uri,
        label=results[0].label,
        covered_components=tuple(results[0].covered_components.items()),
    )


def _invalid_message(exc: Exception) -> str:
    text = str(exc)
    if "Content-Digest does not match" in text:
        return _("Content-Digest does not match the request body.")
    if "requires a signed Content-Digest" in text or "content-digest" in text.lower():
        return _("A request with a body must carry a signed Content-Digest (sha-256).")
    if "Required component" in text:
        return _(
            'The signature must cover "@method", "@authority", "@target-uri" '
            '(and "content-digest" when there is a body).'
        )
    return _("The signature does not verify with this key for this request.")


class _OneKey(HTTPSignatureKeyResolver):
    """Key resolver for the one key already looked up."""

    def __init__(self, key_id: str, public_key: Any) -> None:
        self.key_id = key_id
        self.public_key = public_key

    def resolve_public_key(self, key_id: str) -> Any:
        return self.public_key if key_id == self.key_id else None

    def resolve_private_key(self, key_id: str) -> Any:
        raise KeyError(key_id)


# --- Nonce store ------------------------------------------------------------


def _nonce_cache_alias() -> str | None:
    """The cache to keep nonces in: a Redis cache if one is configured, else None (database)."""
    alias = getattr(settings, "PLATFORM_NONCE_CACHE", None)
    if alias:
        return str(alias)
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    return "default" if "redis" in backend.lower() else None


def nonce_consume(key: PlatformKey, nonce: str, *, now: datetime.datetime, created: int) -> bool:
    """Record ``nonce`` for ``key``; False if it is still kept from an earlier use.

    It is kept until :func:`nonce_kept_until`: as long as a signature that
    carried it could be accepted.
    """
    expires_at = nonce_kept_until(created=created, first_used=now)
    alias = _nonce_cache_alias()
    if alias is not None:
        digest = hashlib.sha256(nonce.encode()).hexdigest()
        timeout = max(1, math.ceil((expires_at - now).total_seconds()))
        return bool(caches[alias].add(f"platforms:nonce:{key.pk}:{digest}", 1, timeout=timeout))
    table = connection.ops.quote_name(SignatureNonce._meta.db_table)
    # One statement, so two requests racing with the same nonce cannot both
    # win: the unique index makes the second wait for the first, then its
    # conditional update finds a kept row and changes nothing.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key_id, nonce, seen_at, expires_at) "  # noqa: S608
            f"VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT (key_id, nonce) DO UPDATE SET seen_at = EXCLUDED.seen_at, "
            f"expires_at = EXCLUDED.expires_at "
            f"WHERE {table}.expires_at <= %s RETURNING id",
            [key.pk, nonce, now, expires_at, now],
        )
        return cursor.fetchone() is not None


def nonce_prune(*, now: datetime.datetime | None = None) -> int:
    """Delete database nonces no longer kept (:func:`nonce_kept_until`); return how many."""
    now = now or timezone.now()
    deleted, _by_model = SignatureNonce.objects.filter(expires_at__lte=now).delete()
    return deleted
