"""The redemption API's endpoints (``shared/platform-api.md``), one view per operation.

Each view is thin: the input serializer checks the body's shape,
:mod:`platforms.usage` prices usage and calls the voucher service, and the
service's result is the response body. Signature, rate limit and error shape
come from :class:`platforms.api.PlatformAPIView`; ``Idempotency-Key`` from
:func:`platforms.idempotency.idempotent`.
"""

from __future__ import annotations

import threading
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import client_ip
from common.errors import BusinessError, Code
from vouchers.services import voucher_lookup

from . import usage
from .api import IDEMPOTENCY_KEY, POST_ERRORS, SIGNED_ERRORS, PlatformAPIView, error_response
from .idempotency import idempotent
from .selectors import redemption_page
from .serializers import (
    ChargeSerializer,
    HoldRequestSerializer,
    HoldSerializer,
    RedemptionListQuerySerializer,
    RedemptionPageSerializer,
    RedemptionRequestSerializer,
    RedemptionSerializer,
    ReversalRequestSerializer,
    ReversalSerializer,
    UsageBatchRequestSerializer,
    UsageBatchResponseSerializer,
    VoucherSerializer,
)

MAX_ID = 2**63 - 1


class _Checkers(threading.local):
    by_class: dict[type[serializers.Serializer], serializers.Serializer]

    def __init__(self) -> None:
        self.by_class = {}


_checkers = _Checkers()


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """The body checked by ``serializer_class``, or its ValidationError.

    One serializer per class (and thread) checks every request, as a usage
    batch checks its records with one: a new serializer deep-copies its
    fields, which cost more than the checks. ``run_validation()`` is what
    ``is_valid()`` runs, and raises the same errors."""
    checkers = _checkers.by_class
    checker = checkers.get(serializer_class)
    if checker is None:
        checker = checkers[serializer_class] = serializer_class()
    return dict(checker.run_validation(data))


def _object_id(text: str, code: str, message: Any, field: str) -> int:
    """A path id as an integer; anything else names no object (404, never 500)."""
    # isdigit() alone admits "¹" and other digits int() refuses.
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise BusinessError(code, message, field)
    return int(text)


class SignedView(PlatformAPIView):
    def call(self, request: Request) -> usage.SignedCall:
        return usage.SignedCall(
            verified=self.verified(request), body=request.body, source_ip=client_ip(request)
        )


class VoucherDetailView(SignedView):
    @extend_schema(
        operation_id="voucher_lookup",
        summary="Look up a voucher",
        description="Status, available balance, held amount, rate in force today and validity "
        "of a voucher bound to your platform.",
        responses={
            200: VoucherSerializer,
            **SIGNED_ERRORS,
            404: error_response("`voucher_not_found`"),
        },
        tags=["vouchers"],
    )
    def get(self, request: Request, code: str) -> Response:
        view = voucher_lookup(platform=self.verified(request).platform, voucher_code=code)
        return Response(view.as_dict())


class RedemptionsView(SignedView):
    @extend_schema(
        operation_id="redemption_create",
        summary="Deduct one charge now",
        description="CNY vouchers cover `min(billed_amount × rate_in_force(occurred_at), "
        "balance, per_charge_cap)`; POINTS vouchers deduct the points of the usage lines "
        "priced with your model catalog. A used `reference` with the same body returns the "
        'original result with `"replayed": true`; with a different body, 409 '
        "`reference_conflict`.",
        request=RedemptionRequestSerializer,
        responses={
            201: RedemptionSerializer,
            **POST_ERRORS,
            404: error_response("`voucher_not_found`"),
        },
        parameters=[IDEMPOTENCY_KEY],
        tags=["redemptions"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _valid(RedemptionRequestSerializer, request.data)
        result = usage.redeem(self.call(request), data)
        return Response(result.as_dict(), status=201)

    @extend_schema(
        operation_id="redemption_list",
        summary="Your redemptions, oldest first",
        description="For reconciliation: this platform's own redemptions, oldest first, "
        "`limit` per page (default 100, at most 500). Follow `next_cursor` until it is null.",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Made at or after."),
            OpenApiParameter("voucher", OpenApiTypes.STR, description="Only this voucher."),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next_cursor`."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1–500, default 100."),
        ],
        responses={200: RedemptionPageSerializer, **SIGNED_ERRORS},
        tags=["redemptions"],
    )
    def get(self, request: Request) -> Response:
        query = _valid(RedemptionListQuerySerializer, request.query_params)
        return Response(
            redemption_page(
                platform=self.verified(request).platform,
                since=query.get("since"),
                voucher_code=query.get("voucher"),
                cursor=query.get("cursor"),
                limit=query["limit"],
            )
        )


class HoldsView(SignedView):
    @extend_schema(
        operation_id="hold_create",
        summary="Reserve part of a voucher before a long job",
        description="`amount` in the voucher's unit; `expires_in` seconds (default 3600, at "
        "most 86400). Open holds past `expires_at` are released automatically.",
        request=HoldRequestSerializer,
        responses={201: HoldSerializer, **POST_ERRORS, 404: error_response("`voucher_not_found`")},
        parameters=[IDEMPOTENCY_KEY],
        tags=["holds"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _valid(HoldRequestSerializer, request.data)
        result = usage.hold(self.call(request), data)
        return Response(result.as_dict(), status=201)


def _hold_id(text: str) -> int:
    return _object_id(text, Code.HOLD_NOT_FOUND, _("No such hold."), "hold")


class HoldCaptureView(SignedView):
    @extend_schema(
        operation_id="hold_capture",
        summary="Charge a hold",
        description="The body of a redemption without `voucher`. Covers at most the held "
        "amount and releases the rest.",
        request=ChargeSerializer,
        responses={
            201: RedemptionSerializer,
            **POST_ERRORS,
            404: error_response("`hold_not_found`"),
        },
        parameters=[IDEMPOTENCY_KEY],
        tags=["holds"],
    )
    @idempotent
    def post(self, request: Request, hold_id: str) -> Response:
        data = _valid(ChargeSerializer, request.data)
        result = usage.capture(self.call(request), _hold_id(hold_id), data)
        return Response(result.as_dict(), status=201)


class HoldReleaseView(SignedView):
    @extend_schema(
        operation_id="hold_release",
        summary="Release a hold",
        request=None,
        responses={200: HoldSerializer, **POST_ERRORS, 404: error_response("`hold_not_found`")},
        parameters=[IDEMPOTENCY_KEY],
        tags=["holds"],
    )
    @idempotent
    def post(self, request: Request, hold_id: str) -> Response:
        result = usage.release(self.call(request), _hold_id(hold_id))
        return Response(result.as_dict(), status=200)


class ReversalsView(SignedView):
    @extend_schema(
        operation_id="reversal_create",
        summary="Refund all or part of a charge",
        description="Never more than was covered, in total over all reversals of the charge.",
        request=ReversalRequestSerializer,
        responses={
            201: ReversalSerializer,
            **POST_ERRORS,
            404: error_response("`redemption_not_found`"),
        },
        parameters=[IDEMPOTENCY_KEY],
        tags=["redemptions"],
    )
    @idempotent
    def post(self, request: Request, redemption_id: str) -> Response:
        data = _valid(ReversalRequestSerializer, request.data)
        number = _object_id(
            redemption_id, Code.REDEMPTION_NOT_FOUND, _("No such redemption."), "redemption"
        )
        result = usage.reverse(self.call(request), number, data)
        return Response(result.as_dict(), status=201)


class UsageBatchesView(SignedView):
    @extend_schema(
        operation_id="usage_batch_create",
        summary="Report up to 1,000 charges at once",
        description="Each record is a redemption body and stands or falls alone: the results "
        "come back in order, each `captured`, `replayed` (its reference was already used "
        "with the same body) or `rejected` with an `error` in the contract's shape.",
        request=UsageBatchRequestSerializer,
        responses={200: UsageBatchResponseSerializer, **POST_ERRORS},
        parameters=[IDEMPOTENCY_KEY],
        tags=["redemptions"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _valid(UsageBatchRequestSerializer, request.data)
        results = usage.redeem_batch(self.call(request), data["records"])
        return Response({"results": results}, status=200)
