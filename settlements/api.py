"""The settlement endpoints of the platform API (``shared/platform-api.md``,
"Settlements (added in v1.1)"), mounted at ``/api/v1/`` by ``config/urls.py``
beside :mod:`platforms.urls`.

The views are thin, as the redemption API's are: signature, rate limit and
error shape come from :class:`platforms.api.PlatformAPIView`,
``Idempotency-Key`` from :func:`platforms.idempotency.idempotent`, and the
submission goes through :func:`settlements.services.settlement_submit` with
the signed request's evidence (:class:`platforms.usage.SignedCall`, as every
charge). A platform sees only its own settlements; another platform's are
not found.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import ComputePlatform
from common.errors import BusinessError, Code
from platforms.api import IDEMPOTENCY_KEY, POST_ERRORS, SIGNED_ERRORS, error_response
from platforms.idempotency import idempotent
from platforms.views import MAX_ID, SignedView
from vouchers.services import format_amount

from .models import Settlement, SettlementLine
from .serializers import (
    PERIOD_PATTERN,
    STATUSES,
    SettlementLinePageSerializer,
    SettlementLinesQuerySerializer,
    SettlementListQuerySerializer,
    SettlementPageSerializer,
    SettlementSerializer,
    SettlementSubmitRequestSerializer,
)
from .services import settlement_submit, settlements_draw

# -- reads -----------------------------------------------------------------------


def _iso(moment: datetime.datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment is not None else None


def settlement_body(settlement: Settlement) -> dict[str, Any]:
    """A settlement as the contract shows it (``program`` and its district loaded)."""
    unit = settlement.unit
    program = settlement.program
    return {
        "id": settlement.pk,
        "program": {
            "id": program.pk,
            "name": program.display_name,
            "district": program.district.display_name,
        },
        "period": settlement.period,
        "status": str(settlement.status),
        "lines": settlement.line_count,
        "covered": format_amount(settlement.covered, unit),
        "reversed": format_amount(settlement.reversed, unit),
        "amount_due": format_amount(settlement.amount_due, unit),
        "invoice_number": settlement.invoice_number or None,
        "submitted_at": _iso(settlement.submitted_at),
        "approved_amount": format_amount(settlement.approved_amount, unit),
        "paid_amount": format_amount(settlement.paid_amount, unit),
        "paid_at": _iso(settlement.paid_at),
        "payment_reference": settlement.payment_reference or None,
    }


def settlement_line_body(line: SettlementLine, unit: str) -> dict[str, Any]:
    """One line as the contract shows it (``voucher`` loaded), amounts in ``unit``."""
    return {
        "redemption": line.redemption_id,
        "voucher": line.voucher.code,
        "reference": line.reference,
        "occurred_at": _iso(line.occurred_at),
        "covered": format_amount(line.covered, unit),
        "reversed": format_amount(line.reversed, unit),
        "status": str(line.status),
        "rejection_reason": line.rejection_reason or None,
    }


def _bad_cursor() -> BusinessError:
    return BusinessError(
        Code.VALIDATION_ERROR, _("This cursor is not one the server returned."), "cursor"
    )


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc


def _cursor_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise _bad_cursor()
    return int(text)


def _settlement_cursor(settlement: Settlement) -> str:
    return _encode(f"s|{settlement.pk}")


def _after_settlement(cursor: str) -> int:
    kind, _sep, pk = _decode(cursor).partition("|")
    if kind != "s":
        raise _bad_cursor()
    return _cursor_id(pk)


def _line_cursor(line: SettlementLine) -> str:
    return _encode(f"{line.recorded_at.astimezone(datetime.UTC).isoformat()}|{line.pk}")


def _after_line(cursor: str) -> tuple[datetime.datetime, int]:
    moment, _sep, pk = _decode(cursor).partition("|")
    try:
        parsed = datetime.datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        parsed = parsed.astimezone(datetime.UTC)
    except (ValueError, OverflowError) as exc:
        raise _bad_cursor() from exc
    return parsed, _cursor_id(pk)


def settlement_page(
    *,
    platform: ComputePlatform,
    period: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """A page of ``platform``'s own settlements in the order they were drawn,
    oldest first, and the cursor after it.

    Keyset pagination on the id: a settlement drawn while a client pages
    through appears at the end, never twice."""
    rows = Settlement.objects.filter(platform=platform).select_related("program__district")
    if period is not None:
        rows = rows.filter(period=period)
    if status is not None:
        rows = rows.filter(status=status)
    if cursor is not None:
        rows = rows.filter(pk__gt=_after_settlement(cursor))
    page = list(rows.order_by("id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "results": [settlement_body(settlement) for settlement in page],
        "next": _settlement_cursor(page[-1]) if more else None,
    }


def settlement_line_page(
    *, platform: ComputePlatform, settlement_id: int, cursor: str | None = None, limit: int = 100
) -> dict[str, Any]:
    """A page of the lines of ``platform``'s settlement ``settlement_id``, in
    the order they were recorded (``recorded_at``, id), and the cursor after it."""
    unit = (
        Settlement.objects.filter(pk=settlement_id, platform=platform)
        .values_list("unit", flat=True)
        .first()
    )
    if unit is None:
        raise _not_found()
    rows = SettlementLine.objects.filter(settlement_id=settlement_id).select_related("voucher")
    if cursor is not None:
        after, after_pk = _after_line(cursor)
        rows = rows.filter(Q(recorded_at__gt=after) | Q(recorded_at=after, pk__gt=after_pk))
    page = list(rows.order_by("recorded_at", "id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "results": [settlement_line_body(line, unit) for line in page],
        "next": _line_cursor(page[-1]) if more else None,
    }


# -- views -----------------------------------------------------------------------


def _not_found() -> BusinessError:
    return BusinessError(Code.SETTLEMENT_NOT_FOUND, _("No such settlement."), "settlement")


def _settlement_id(text: str) -> int:
    """A path id as an integer; anything else names no settlement (404, never 500)."""
    # isdigit() alone admits "¹" and other digits int() refuses.
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise _not_found()
    return int(text)


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


CURSOR = OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next`.")
LIMIT = OpenApiParameter(
    "limit", {"type": "integer", "minimum": 1, "maximum": 500}, description="1–500, default 100."
)
NOT_FOUND = error_response("`settlement_not_found` — no such settlement of yours.")


class SettlementsView(SignedView):
    @extend_schema(
        operation_id="settlement_list",
        summary="Your settlements",
        description="This platform's settlements, one per program and period, in the order "
        "they were drawn (oldest first), `limit` per page (default 100, at most 500). Follow "
        "`next` (pass it as `cursor`) until it is null. A settlement exists as a `draft` as "
        "soon as its period has ended.",
        parameters=[
            OpenApiParameter(
                "period",
                {"type": "string", "pattern": PERIOD_PATTERN},
                description="Only this period: `2026-05` (a month) or `2026-Q2` (a quarter).",
            ),
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=STATUSES, description="Only those in this status."
            ),
            CURSOR,
            LIMIT,
        ],
        responses={200: SettlementPageSerializer, **SIGNED_ERRORS},
        tags=["settlements"],
    )
    def get(self, request: Request) -> Response:
        query = _valid(SettlementListQuerySerializer, request.query_params)
        platform = self.verified(request).platform
        # So that a period's settlement is there the moment it has ended,
        # whether or not the periodic draw has run yet (drawing is idempotent).
        settlements_draw(platform=platform)
        return Response(
            settlement_page(
                platform=platform,
                period=query.get("period"),
                status=query.get("status"),
                cursor=query.get("cursor"),
                limit=query["limit"],
            )
        )


class SettlementLinesView(SignedView):
    @extend_schema(
        operation_id="settlement_lines",
        summary="The lines of one of your settlements",
        description="Its captures and reversals in the order they were recorded, each "
        "`included` or `rejected` (with the reviewer's reason), `limit` per page (default "
        "100, at most 500). Follow `next` (pass it as `cursor`) until it is null.",
        parameters=[CURSOR, LIMIT],
        responses={200: SettlementLinePageSerializer, **SIGNED_ERRORS, 404: NOT_FOUND},
        tags=["settlements"],
    )
    def get(self, request: Request, settlement_id: str) -> Response:
        number = _settlement_id(settlement_id)
        query = _valid(SettlementLinesQuerySerializer, request.query_params)
        return Response(
            settlement_line_page(
                platform=self.verified(request).platform,
                settlement_id=number,
                cursor=query.get("cursor"),
                limit=query["limit"],
            )
        )


class SettlementSubmitView(SignedView):
    @extend_schema(
        operation_id="settlement_submit",
        summary="Submit a settlement with your invoice",
        description="Only a `draft` or `returned` settlement, and `invoice_amount` must equal "
        "its `amount_due`. The signed request is kept as your attestation of the statement.",
        request=SettlementSubmitRequestSerializer,
        responses={
            200: SettlementSerializer,
            **POST_ERRORS,
            404: NOT_FOUND,
            409: error_response(
                "`settlement_not_open` (not a draft or returned settlement), "
                "`settlement_amount_mismatch` (the invoice is not for the amount due), "
                "`idempotency_key_reused`."
            ),
        },
        parameters=[IDEMPOTENCY_KEY],
        tags=["settlements"],
    )
    @idempotent
    def post(self, request: Request, settlement_id: str) -> Response:
        data = _valid(SettlementSubmitRequestSerializer, request.data)
        settlement = self.call(request).perform(
            settlement_submit,
            settlement_id=_settlement_id(settlement_id),
            invoice_number=data["invoice_number"],
            invoice_amount=data["invoice_amount"],
            note=data["note"],
        )
        return Response(settlement_body(settlement), status=200)
