"""Drawing settlements: when a period ends, one settlement per platform ×
program × period with lines in it, each line a capture or reversal recorded
in the period (Asia/Shanghai), with the signed evidence it was accepted on."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import ComputePlatform
from audit import events
from audit.services import Actor
from common.bulk import copy_insert
from programs.models import Program
from vouchers.models import Redemption, Reversal

from .models import Settlement, SettlementLine
from .periods import Period, period_of
from .records import _audit, _locked, _recount

logger = logging.getLogger(__name__)

#: Captures and reversals committed this long after a period ended may still
#: be recorded in it (a transaction that began before midnight); a period is
#: drawn only after it.
DRAW_GRACE = datetime.timedelta(seconds=60)
LINE_CHUNK = 2000


def _undrawn_charges() -> Any:
    return Redemption.objects.filter(
        voucher__program__payout_mode=Program.PayoutMode.DEDUCT_AT_PLATFORM
    ).exclude(pk__in=SettlementLine.objects.filter(kind="capture").values("redemption_id"))


def _undrawn_reversals() -> Any:
    return Reversal.objects.filter(
        redemption__voucher__program__payout_mode=Program.PayoutMode.DEDUCT_AT_PLATFORM,
        settlement_rejection__isnull=True,
        settlement_line__isnull=True,
    )


def settlements_draw(
    *, now: datetime.datetime | None = None, platform: ComputePlatform | None = None
) -> list[Settlement]:
    """Draw the settlements of every period that has ended: one per platform
    × program × period with lines in it, each line a capture or reversal
    recorded in the period (Asia/Shanghai). Idempotent: a line is drawn once;
    a line committed late into a period whose settlement is still open
    (draft or returned) joins it. Returns the settlements drawn or grown."""
    now = now or timezone.now()
    tz = timezone.get_default_timezone()
    charges = _undrawn_charges()
    reversals = _undrawn_reversals()
    if platform is not None:
        charges = charges.filter(platform=platform)
        reversals = reversals.filter(platform=platform)
    groups: set[tuple[int, int, datetime.date]] = set()
    for row in (
        charges.annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values_list("platform_id", "voucher__program_id", "month")
        .order_by()
        .distinct()
    ):
        groups.add((row[0], row[1], row[2].date() if hasattr(row[2], "date") else row[2]))
    for row in (
        reversals.annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values_list("platform_id", "redemption__voucher__program_id", "month")
        .order_by()
        .distinct()
    ):
        groups.add((row[0], row[1], row[2].date() if hasattr(row[2], "date") else row[2]))
    programs = Program.objects.in_bulk({program_id for _p, program_id, _m in groups})
    wanted: set[tuple[int, int, Period]] = set()
    for platform_id, program_id, month in groups:
        period = period_of(month, programs[program_id].settlement_period)
        if now >= period.bounds()[1] + DRAW_GRACE:
            wanted.add((platform_id, program_id, period))
    drawn = []
    for platform_id, program_id, period in sorted(wanted, key=lambda w: (w[2], w[1], w[0])):
        settlement = _draw_one(platform_id=platform_id, program=programs[program_id], period=period)
        if settlement is not None:
            drawn.append(settlement)
    return drawn


@transaction.atomic
def _draw_one(*, platform_id: int, program: Program, period: Period) -> Settlement | None:
    start, end = period.bounds()
    try:
        with transaction.atomic():
            settlement, created = Settlement.objects.get_or_create(
                platform_id=platform_id,
                program=program,
                period=period.label,
                defaults={"starts_at": start, "ends_at": end, "unit": program.unit},
            )
    except IntegrityError:
        created = False
        settlement = Settlement.objects.get(
            platform_id=platform_id, program=program, period=period.label
        )
    settlement = _locked(settlement)
    if settlement.status not in Settlement.SUBMITTABLE:
        # Lines that reach a period whose statement is already with the
        # district are left undrawn and reported: nothing is moved silently.
        logger.warning(
            "settlement %s is %s: late lines not added", settlement.pk, settlement.status
        )
        return None
    charges = (
        _undrawn_charges()
        .filter(
            platform_id=platform_id,
            voucher__program=program,
            created_at__gte=start,
            created_at__lt=end,
        )
        .order_by("created_at", "id")
        .values_list("id", "voucher_id", "reference", "occurred_at", "created_at", "covered")
    )
    reversals = (
        _undrawn_reversals()
        .filter(
            platform_id=platform_id,
            redemption__voucher__program=program,
            created_at__gte=start,
            created_at__lt=end,
        )
        .order_by("created_at", "id")
        .values_list(
            "id",
            "redemption_id",
            "redemption__voucher_id",
            "reference",
            "redemption__occurred_at",
            "created_at",
            "amount",
        )
    )
    lines = [
        SettlementLine(
            settlement=settlement,
            kind=SettlementLine.Kind.CAPTURE,
            redemption_id=pk,
            voucher_id=voucher_id,
            reference=reference,
            occurred_at=occurred_at,
            recorded_at=created_at,
            covered=covered,
        )
        for pk, voucher_id, reference, occurred_at, created_at, covered in charges.iterator(
            chunk_size=LINE_CHUNK
        )
    ]
    lines += [
        SettlementLine(
            settlement=settlement,
            kind=SettlementLine.Kind.REVERSAL,
            reversal_id=pk,
            redemption_id=redemption_id,
            voucher_id=voucher_id,
            reference=reference,
            occurred_at=occurred_at,
            recorded_at=created_at,
            reversed=amount,
        )
        for pk, redemption_id, voucher_id, reference, occurred_at, created_at, amount in (
            reversals.iterator(chunk_size=LINE_CHUNK)
        )
    ]
    if not lines:
        if created:
            # Nothing in it after all (all lines taken by a concurrent draw).
            settlement.delete()
        return None
    # COPY: a month of a busy platform is tens of thousands of lines.
    for offset in range(0, len(lines), LINE_CHUNK * 10):
        copy_insert(lines[offset : offset + LINE_CHUNK * 10])
    _recount(settlement)
    settlement.save(update_fields=["covered", "reversed", "rejected", "amount_due", "line_count"])
    _audit(
        settlement,
        Actor.system("settlements_draw"),
        events.SETTLEMENT_DRAWN,
        extra={"added_lines": len(lines)},
    )
    return settlement
