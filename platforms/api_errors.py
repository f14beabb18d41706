"""The one exception handler of the API: every failure in the contract's shape.

``{"error": {"code": "<stable_code>", "message": "<human text>", "field": "<field or null>"}}``

Business refusals (:class:`common.errors.BusinessError`) keep their code, with
the HTTP status of :data:`STATUS`. DRF's own failures are mapped too: validation errors name the first
offending field (``usage[0].model``), parse errors are ``validation_error``,
throttling is 429 ``rate_limited`` with ``Retry-After``. HTTP-level failures
that the contract does not name get codes of their own, added to (never
changing) the contract's list: ``not_found`` (404 for a path that does not
exist), ``method_not_allowed`` (405), ``not_acceptable`` (406),
``unsupported_media_type`` (415), ``service_unavailable`` (503 with ``Retry-After``,
while the database is unreachable) and ``internal_error`` (500, a server fault,
never bad input). Messages are in the language negotiated from
``Accept-Language`` by Django's LocaleMiddleware.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django import db
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response

from common.errors import BusinessError, Code

logger = logging.getLogger(__name__)


class ApiCode(Code):
    """The contract's codes that only the API layer refuses with: request
    signatures and keys, idempotency, throttling (beside the services' codes
    of :class:`common.errors.Code`, which this class inherits)."""

    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_INVALID = "signature_invalid"
    KEY_UNKNOWN = "key_unknown"
    KEY_REVOKED = "key_revoked"
    SIGNATURE_STALE = "signature_stale"
    NONCE_REPLAYED = "nonce_replayed"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    RATE_LIMITED = "rate_limited"


# The HTTP status of each business code (every code of ApiCode, and so of Code).
STATUS: dict[str, int] = {
    ApiCode.VALIDATION_ERROR: 400,
    ApiCode.SIGNATURE_MISSING: 401,
    ApiCode.SIGNATURE_INVALID: 401,
    ApiCode.KEY_UNKNOWN: 401,
    ApiCode.KEY_REVOKED: 401,
    ApiCode.SIGNATURE_STALE: 401,
    ApiCode.NONCE_REPLAYED: 401,
    ApiCode.PLATFORM_SUSPENDED: 403,
    ApiCode.PLATFORM_NOT_BOUND: 403,
    ApiCode.VOUCHER_NOT_FOUND: 404,
    ApiCode.HOLD_NOT_FOUND: 404,
    ApiCode.REDEMPTION_NOT_FOUND: 404,
    ApiCode.VOUCHER_NOT_ACTIVE: 409,
    ApiCode.VOUCHER_EXPIRED: 409,
    ApiCode.VOUCHER_EXHAUSTED: 409,
    ApiCode.INSUFFICIENT_BALANCE: 409,
    ApiCode.HOLD_NOT_OPEN: 409,
    ApiCode.IDEMPOTENCY_KEY_REUSED: 409,
    ApiCode.REFERENCE_CONFLICT: 409,
    ApiCode.SETTLEMENT_NOT_FOUND: 404,
    ApiCode.SETTLEMENT_NOT_OPEN: 409,
    ApiCode.SETTLEMENT_AMOUNT_MISMATCH: 409,
    ApiCode.RATE_LIMITED: 429,
}

NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
NOT_ACCEPTABLE = "not_acceptable"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
FORBIDDEN = "forbidden"
INTERNAL_ERROR = "internal_error"
SERVICE_UNAVAILABLE = "service_unavailable"

# Codes of HTTP-level failures, beside the contract's business codes.
HTTP_CODES: dict[str, int] = {
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    NOT_ACCEPTABLE: 406,
    UNSUPPORTED_MEDIA_TYPE: 415,
    FORBIDDEN: 403,
    INTERNAL_ERROR: 500,
    SERVICE_UNAVAILABLE: 503,
}

ALL_CODES: dict[str, int] = {**STATUS, **HTTP_CODES}

# RFC 9110 asks a 401 to say how to authenticate; RFC 9421 signatures have no
# registered scheme name, so this names the mechanism and points at the docs.
WWW_AUTHENTICATE = 'Signature realm="platform-api", alg="ed25519", docs="/api/v1/docs/"'


def is_unicode_text(value: Any) -> bool:
    """True for a string that UTF-8 can carry: JSON's ``"\\udc00"`` escapes
    decode to lone surrogates, which no response (and no database) can hold."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(value: Any) -> str:
    """``value`` as text a response can carry: lone surrogates written as escapes."""
    text = str(value)
    if is_unicode_text(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(code: str, message: Any, field: str | None = None) -> dict[str, Any]:
    # A message may quote the input (a ChoiceField's '"x" is not a valid
    # choice'), and input may hold lone surrogates: never let that make the
    # refusal itself fail to render.
    return {
        "error": {
            "code": code,
            "message": printable(message),
            "field": None if field is None else printable(field),
        }
    }


def business_error_body(error: BusinessError) -> dict[str, Any]:
    """The contract's error body of a refusal, with the message in the active language."""
    return {"error": {"code": error.code, "message": str(error.message), "field": error.field}}


def first_validation_error(detail: Any, path: str = "") -> tuple[str | None, str]:
    """The first error of a DRF ``detail`` tree, with its field as a path
    (``usage[2].model``); non-field errors name their parent or None."""
    if isinstance(detail, dict):
        for name, sub in detail.items():
            if name in ("non_field_errors", "__all__"):
                child = path
            elif isinstance(name, int):
                # A ListField reports its items' errors by index.
                child = f"{path}[{name}]"
            else:
                child = f"{path}.{name}" if path else str(name)
            field, message = first_validation_error(sub, child)
            if message:
                return field, message
        return (path or None), ""
    if isinstance(detail, list):
        # A list of messages for one field, or one entry per item of a list
        # field (empty dicts for the items that were fine).
        if detail and all(not isinstance(item, (dict, list)) for item in detail):
            return (path or None), str(detail[0])
        for index, item in enumerate(detail):
            field, message = first_validation_error(item, f"{path}[{index}]")
            if message:
                return field, message
        return (path or None), ""
    return (path or None), str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Render ``exc`` as the contract's error body with its status."""
    headers: dict[str, str] = {}
    if isinstance(exc, BusinessError):
        status = STATUS[exc.code]
        if status == 401:
            headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        return Response(business_error_body(exc), status=status, headers=headers)
    if isinstance(exc, exceptions.ValidationError):
        field, message = first_validation_error(exc.detail)
        return Response(
            error_body(Code.VALIDATION_ERROR, message or _("Invalid input."), field), status=400
        )
    if isinstance(exc, exceptions.ParseError):
        return Response(
            error_body(Code.VALIDATION_ERROR, _("The body is not valid JSON: %s") % exc.detail),
            status=400,
        )
    if isinstance(exc, exceptions.NotAuthenticated):
        return Response(
            error_body(
                ApiCode.SIGNATURE_MISSING,
                _(
                    "This API needs signed requests (RFC 9421 Signature-Input and Signature headers)."
                ),
            ),
            status=401,
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )
    if isinstance(exc, exceptions.AuthenticationFailed):
        return Response(
            error_body(ApiCode.SIGNATURE_INVALID, exc.detail),
            status=401,
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )
    if isinstance(exc, exceptions.Throttled):
        seconds = getattr(exc, "wait", None)
        wait = math.ceil(seconds) if seconds is not None else 1
        headers["Retry-After"] = str(max(wait, 1))
        return Response(
            error_body(
                ApiCode.RATE_LIMITED,
                _("Too many requests with this key; retry after %(seconds)d s.")
                % {"seconds": max(wait, 1)},
            ),
            status=429,
            headers=headers,
        )
    if isinstance(exc, (exceptions.NotFound, Http404)):
        return Response(
            error_body(NOT_FOUND, _("There is no such endpoint or object.")), status=404
        )
    if isinstance(exc, exceptions.MethodNotAllowed):
        view = context.get("view")
        if view is not None:
            headers["Allow"] = ", ".join(view.allowed_methods)
        return Response(error_body(METHOD_NOT_ALLOWED, exc.detail), status=405, headers=headers)
    if isinstance(exc, exceptions.NotAcceptable):
        return Response(error_body(NOT_ACCEPTABLE, exc.detail), status=406)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response(
            error_body(
                UNSUPPORTED_MEDIA_TYPE,
                _("Send the body as JSON (Content-Type: application/json)."),
            ),
            status=415,
        )
    if isinstance(exc, (exceptions.PermissionDenied, DjangoPermissionDenied)):
        return Response(error_body(FORBIDDEN, _("You may not do this.")), status=403)
    if isinstance(exc, SuspiciousOperation):
        # A host not in ALLOWED_HOSTS, a body over the size limit: the
        # client's fault, never a server error.
        return Response(
            error_body(Code.VALIDATION_ERROR, _("The request was refused as malformed.")),
            status=400,
        )
    if isinstance(exc, exceptions.APIException):
        code = Code.VALIDATION_ERROR if exc.status_code == 400 else INTERNAL_ERROR
        return Response(error_body(code, exc.detail), status=exc.status_code)
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        # The database is restarting or unreachable: nothing was committed
        # (the transaction died with the connection), so the client may retry
        # the same request with the same Idempotency-Key.
        logger.warning("Database unavailable in the platform API: %s", exc)
        return Response(
            error_body(
                SERVICE_UNAVAILABLE,
                _("The service is briefly unavailable; retry the same request shortly."),
            ),
            status=503,
            headers={"Retry-After": "2"},
        )
    logger.exception("Unhandled error in the platform API", exc_info=exc)
    return Response(
        error_body(INTERNAL_ERROR, _("Something went wrong on our side; it has been logged.")),
        status=500,
    )


def http_error_response(status: int) -> JsonResponse:
    """The contract's error body for a failure Django answers before or
    outside an API view (a path under ``/api/`` that matches no view, a
    refused request, a fault in a middleware): 400, 403, 404 or 500.

    ``config.errors`` answers with it for every path under ``/api/``, so a
    platform's client never gets an HTML page; the messages are those of
    :func:`api_exception_handler` for the same failures.
    """
    if status == 400:
        body = error_body(Code.VALIDATION_ERROR, _("The request was refused as malformed."))
    elif status == 403:
        body = error_body(FORBIDDEN, _("You may not do this."))
    elif status == 404:
        body = error_body(NOT_FOUND, _("There is no such endpoint or object."))
    else:
        status = 500
        body = error_body(
            INTERNAL_ERROR, _("Something went wrong on our side; it has been logged.")
        )
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
