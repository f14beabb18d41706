"""Reads of the platforms app."""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ComputePlatform
from accounts.scoping import scope_for, scoped
from common.compiled_query import CompiledQuery
from common.errors import BusinessError, Code
from config.db_router import reporting_reads
from programs.models import Program
from vouchers.codes import normalize_code
from vouchers.models import Hold, Redemption, Reversal
from vouchers.services import RedemptionResult, format_amount

from .models import ModelCatalogEntry, PlatformKey


def catalog_entry_in_force(
    platform: ComputePlatform | int, model_id: str, *, on: datetime.datetime
) -> ModelCatalogEntry | None:
    """The catalog row for ``model_id`` on ``platform`` in force at ``on``, if any."""
    platform_id = platform if isinstance(platform, int) else platform.pk
    return (
        ModelCatalogEntry.objects.filter(
            platform_id=platform_id, model_id=model_id, valid_from__lte=on
        )
        .order_by("-valid_from")
        .first()
    )


class CatalogSnapshot:
    """A platform's whole catalog read once, answering :func:`catalog_entry_in_force`
    from memory: for pricing a usage batch with one query instead of one per line."""

    def __init__(self, platform: ComputePlatform | int) -> None:
        platform_id = platform if isinstance(platform, int) else platform.pk
        self._rows: dict[str, list[ModelCatalogEntry]] = {}
        for row in ModelCatalogEntry.objects.filter(platform_id=platform_id).order_by(
            "-valid_from"
        ):
            self._rows.setdefault(row.model_id, []).append(row)

    def in_force(self, model_id: str, *, on: datetime.datetime) -> ModelCatalogEntry | None:
        """The row for ``model_id`` in force at ``on`` (the newest not after it), or None."""
        for row in self._rows.get(model_id, ()):
            if row.valid_from <= on:
                return row
        return None


def catalog_in_force(
    platform: ComputePlatform, *, on: datetime.datetime
) -> list[ModelCatalogEntry]:
    """Every model of ``platform`` with the row in force at ``on``, by model id."""
    rows = ModelCatalogEntry.objects.filter(platform=platform, valid_from__lte=on).order_by(
        "model_id", "-valid_from"
    )
    latest: dict[str, ModelCatalogEntry] = {}
    for row in rows:
        latest.setdefault(row.model_id, row)
    return list(latest.values())


def platform_keys(platform: ComputePlatform) -> QuerySet[PlatformKey]:
    """The platform's keys, newest first, revoked ones included."""
    return (
        PlatformKey.objects.filter(platform=platform)
        .select_related("platform")
        .order_by("-created_at")
    )


# No ORDER BY (.first() would add the model's, platform name then date):
# key_id is unique. Every signed request runs this, so it is compiled once.
_KEY_BY_ID: CompiledQuery[PlatformKey] = CompiledQuery(
    lambda key_id: (
        PlatformKey.objects.select_related("platform").filter(key_id=key_id).order_by()[:1]
    ),
    key_id=str,
)


def platform_key_for_verification(key_id: str) -> PlatformKey | None:
    """The key named by a signature's ``keyid``, with its platform, or None."""
    return _KEY_BY_ID.one(key_id=str(key_id))


def _encode_cursor(created_at: datetime.datetime, pk: int) -> str:
    raw = f"{created_at.astimezone(datetime.UTC).isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime.datetime, int]:
    """The position a cursor names; a cursor we did not hand out is a validation error."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _sep, pk = raw.partition("|")
        parsed = datetime.datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, int(pk)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("This cursor is not one the server returned."), "cursor"
        ) from exc


def redemption_list_item(redemption: Redemption) -> dict[str, Any]:
    """One redemption as the listing shows it: its result, with what has become of it."""
    body = RedemptionResult.of(
        redemption, code=redemption.voucher.code, unit=redemption.voucher.unit, replayed=False
    ).as_dict()
    del body["replayed"]
    body["status"] = str(redemption.status)
    body["occurred_at"] = timezone.localtime(redemption.occurred_at).isoformat()
    body["reversed_amount"] = format_amount(redemption.reversed_amount, redemption.voucher.unit)
    return body


def redemption_page(
    *,
    platform: ComputePlatform,
    since: datetime.datetime | None = None,
    voucher_code: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """A page of the platform's own redemptions, oldest first, and the cursor after it.

    Keyset pagination on (created_at, id), served by the index
    ``redemption_platform_time``: a page costs the same however deep it is,
    and rows made while a client pages through appear at the end, never twice.
    """
    rows = Redemption.objects.filter(platform=platform).select_related("voucher")
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if voucher_code is not None:
        code = normalize_code(voucher_code)
        if code is None:
            raise BusinessError(
                Code.VALIDATION_ERROR,
                _("This is not a valid voucher code; please check it for typos."),
                "voucher",
            )
        rows = rows.filter(voucher__code=code)
    if cursor is not None:
        after, after_pk = _decode_cursor(cursor)
        rows = rows.filter(Q(created_at__gt=after) | Q(created_at=after, pk__gt=after_pk))
    page = list(rows.order_by("created_at", "id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "results": [redemption_list_item(r) for r in page],
        "next_cursor": _encode_cursor(page[-1].created_at, page[-1].pk) if more else None,
    }


# -- operators' pages ---------------------------------------------------------


def operator_platforms(user: Any) -> QuerySet[ComputePlatform]:
    """The platforms whose operator pages ``user`` may open: the ones they
    operate (superusers: all)."""
    scope = scope_for(user)
    platforms = scoped(ComputePlatform.objects.order_by("name"), user)
    if scope.is_superuser:
        return platforms
    return platforms.filter(pk__in=scope.platform_ids)


def month_bounds(month: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The first instant of ``month`` and of the next one, in China Standard Time."""
    tz = timezone.get_default_timezone()
    start = datetime.datetime(month.year, month.month, 1, tzinfo=tz)
    following = (start + datetime.timedelta(days=32)).replace(day=1)
    return start, following


@dataclass(frozen=True)
class SettlementRow:
    """What one program owes the platform for one month."""

    program_id: int
    program: str
    district: str
    unit: str
    charges: int
    billed: Decimal
    covered: Decimal
    reversed: Decimal

    @property
    def net(self) -> Decimal:
        return self.covered - self.reversed


@dataclass(frozen=True)
class Settlement:
    """A platform's monthly settlement statement: covered amounts by program."""

    platform: ComputePlatform
    month: datetime.date
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    rows: list[SettlementRow]

    def totals(self) -> list[dict[str, Any]]:
        """Sums per unit (yuan and points are never added together)."""
        units: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            total = units.setdefault(
                row.unit,
                {"unit": row.unit, "charges": 0, "covered": Decimal("0"), "reversed": Decimal("0")},
            )
            total["charges"] += row.charges
            total["covered"] += row.covered
            total["reversed"] += row.reversed
        for total in units.values():
            total["net"] = total["covered"] - total["reversed"]
        return [units[u] for u in sorted(units)]


@reporting_reads()
def settlement_statement(*, platform: ComputePlatform, month: datetime.date) -> Settlement:
    """What each program owes ``platform`` for ``month``: charges made in the
    month less reversals made in it (a reversal of an earlier month's charge
    is settled in the month it happens, as on a bank statement).

    Read from the replica when one is configured (``reporting_reads``): a
    statement is a report, and may be a few seconds behind the primary."""
    start, end = month_bounds(month)
    zero = Value(Decimal("0"), output_field=DecimalField(max_digits=18, decimal_places=2))
    charged = (
        Redemption.objects.filter(platform=platform, created_at__gte=start, created_at__lt=end)
        .values("voucher__program_id")
        .annotate(
            charges=Count("id"),
            billed=Coalesce(Sum("billed_amount"), zero),
            covered=Coalesce(Sum("covered"), zero),
        )
    )
    reversed_ = (
        # A district's rejection of a settled charge gives it back to the
        # voucher with a reversal that is no refund of the platform's: the
        # settlement already left the charge out.
        Reversal.objects.filter(
            platform=platform,
            created_at__gte=start,
            created_at__lt=end,
            settlement_rejection__isnull=True,
        )
        .values("redemption__voucher__program_id")
        .annotate(amount=Coalesce(Sum("amount"), zero))
    )
    figures: dict[int, dict[str, Any]] = {}
    for row in charged:
        figures[row["voucher__program_id"]] = {
            "charges": row["charges"],
            "billed": row["billed"],
            "covered": row["covered"],
            "reversed": Decimal("0"),
        }
    for reversal in reversed_:
        entry = figures.setdefault(
            reversal["redemption__voucher__program_id"],
            {
                "charges": 0,
                "billed": Decimal("0"),
                "covered": Decimal("0"),
                "reversed": Decimal("0"),
            },
        )
        entry["reversed"] = reversal["amount"]
    programs = Program.objects.select_related("district").in_bulk(list(figures))
    rows = [
        SettlementRow(
            program_id=pk,
            program=programs[pk].display_name,
            district=programs[pk].district.display_name,
            unit=programs[pk].unit,
            **figures[pk],
        )
        for pk in sorted(figures, key=lambda pk: (programs[pk].district.code, pk))
    ]
    return Settlement(platform=platform, month=month, starts_at=start, ends_at=end, rows=rows)


def operator_activity(*, platform: ComputePlatform, limit: int = 50) -> dict[str, Any]:
    """The latest redemptions, reversals and the open holds of ``platform``."""
    return {
        "redemptions": list(
            Redemption.objects.filter(platform=platform)
            .select_related("voucher", "voucher__program", "voucher__enterprise")
            .order_by("-created_at", "-id")[:limit]
        ),
        "reversals": list(
            Reversal.objects.filter(platform=platform)
            .select_related("redemption__voucher")
            .order_by("-created_at", "-id")[:limit]
        ),
        "holds": list(
            Hold.objects.filter(platform=platform, status=Hold.Status.OPEN)
            .select_related("voucher", "voucher__enterprise")
            .order_by("expires_at", "id")[:limit]
        ),
    }
