"""The base of every signed API view, the first endpoint (ping) and the API's 404."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, NotFound, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .api_errors import ALL_CODES, api_exception_handler
from .authentication import (
    HTTPMessageSignatureAuthentication,
    IsSignedPlatform,
    PlatformKeyRateThrottle,
)
from .signatures import VerifiedRequest


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=sorted(ALL_CODES), help_text="Stable error code; never changes."
    )
    message = serializers.CharField(help_text="Human text in the Accept-Language (zh-Hans or en).")
    field = serializers.CharField(
        allow_null=True, help_text="The offending field (`usage[0].model`), or null."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


SIGNED_ERRORS: dict[int, OpenApiResponse] = {
    400: error_response("`validation_error` — bad input; `field` names it."),
    401: error_response(
        "`signature_missing`, `signature_invalid` (bad signature, wrong digest, uncovered "
        "component), `key_unknown`, `key_revoked`, `signature_stale`, `nonce_replayed`."
    ),
    403: error_response("`platform_suspended`; `platform_not_bound` on voucher operations."),
    429: error_response("`rate_limited` — per key; wait for `Retry-After` seconds."),
}
POST_ERRORS: dict[int, OpenApiResponse] = {
    **SIGNED_ERRORS,
    409: error_response(
        "`idempotency_key_reused`, `reference_conflict`, and the voucher refusals "
        "(`voucher_not_active`, `voucher_expired`, `voucher_exhausted`, "
        "`insufficient_balance`, `hold_not_open`)."
    ),
    415: error_response("`unsupported_media_type` — send `Content-Type: application/json`."),
}


# For the POST endpoints' @extend_schema(parameters=[IDEMPOTENCY_KEY]).
IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    # The limits the server enforces (platforms.idempotency.idempotency_key).
    type={"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    location=OpenApiParameter.HEADER,
    required=False,
    description="1–255 printable ASCII characters. The same key and body from the same "
    "platform within 24 h returns the original status and byte-identical body (with "
    "`Idempotent-Replayed: true`); the same key with a different body is 409 "
    "`idempotency_key_reused`. Refusals are not stored: a retry is evaluated afresh.",
)


#: How deep a JSON body may nest. The deepest body of the contract is a usage
#: batch (batch → records → record → usage → line: 5 levels); past this a
#: body is refused before any code walks it (and before Python's recursion
#: limit can turn it into a server error anywhere else).
MAX_JSON_DEPTH = 32


def _nests_deeper(node: Any, levels_left: int) -> bool:
    children = node.values() if type(node) is dict else node
    for child in children:
        kind = type(child)
        if (kind is dict or kind is list) and (
            levels_left <= 1 or _nests_deeper(child, levels_left - 1)
        ):
            return True
    return False


def json_depth_exceeds(document: Any, limit: int) -> bool:
    """True when ``document`` nests lists and objects more than ``limit`` deep.

    The recursion stops at ``limit`` levels, so it cannot run out of stack
    itself; it looks only at containers (a 1,000-record batch costs about
    half of what parsing it does)."""
    kind = type(document)
    if kind is not dict and kind is not list:
        return False
    return limit < 1 or _nests_deeper(document, limit)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies nested past :data:`MAX_JSON_DEPTH`.

    Python's decoder raises ``RecursionError`` (not ``ValueError``) on a body
    such as ``[`` × 100,000, which DRF does not turn into a parse error; both
    that and a merely deep body are a ``validation_error`` here."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError:
            document = None
            too_deep = True
        else:
            too_deep = json_depth_exceeds(document, MAX_JSON_DEPTH)
        if too_deep:
            raise ParseError(
                _("JSON nested more than %(depth)d levels deep is not accepted.")
                % {"depth": MAX_JSON_DEPTH}
            )
        return document


class PlatformAPIView(APIView):
    """A view of the signed platform API: JSON only, signature required,
    rate-limited per key, every failure in the contract's error shape."""

    authentication_classes = [HTTPMessageSignatureAuthentication]
    permission_classes = [IsSignedPlatform]
    throttle_classes = [PlatformKeyRateThrottle]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self) -> Any:
        return api_exception_handler

    def verified(self, request: Request) -> VerifiedRequest:
        """The accepted signature of this request (its platform, key and evidence)."""
        verified = request.auth
        if not isinstance(verified, VerifiedRequest):
            # IsSignedPlatform has already refused such requests.
            raise NotAuthenticated
        return verified


class PingSerializer(serializers.Serializer):
    platform = serializers.CharField(help_text="The slug of the platform that signed.")
    key_id = serializers.CharField(help_text="The key id the request was signed with.")
    server_time = serializers.DateTimeField(help_text="The server's clock, to check skew.")


class PingView(PlatformAPIView):
    """Check that signing works: who the server thinks you are."""

    @extend_schema(
        operation_id="ping",
        summary="Check a signed request",
        description="Returns the platform and key id the signature resolved to, and the "
        "server's clock (signatures are refused 300 s after `created`, or 30 s before).",
        responses={200: PingSerializer, **SIGNED_ERRORS},
        tags=["platform"],
    )
    def get(self, request: Request) -> Response:
        verified = self.verified(request)
        return Response(
            PingSerializer(
                {
                    "platform": verified.platform.slug,
                    "key_id": verified.key_id,
                    "server_time": timezone.now(),
                }
            ).data
        )


class NotFoundView(APIView):
    """Any path under the API that is not an endpoint: 404 in the contract's shape."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    schema = None

    def get_exception_handler(self) -> Any:
        return api_exception_handler

    def _not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound

    get = post = put = patch = delete = head = options = _not_found
