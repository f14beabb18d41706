"""Usage-volume detectors: spikes against the trailing median, usage beyond
the declared headcount, a balance drained just before expiry."""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import F
from django.utils import timezone

from oversight.detectors.base import (
    Candidate,
    Detector,
    Period,
    Thresholds,
    as_ratio,
    as_text,
    bill_of,
    by_voucher,
    charges_in,
    daily_totals,
    ids_of,
    local_day,
    thresholds_or_default,
)
from programs.models import Program
from vouchers.models import Redemption, Voucher

# ---------------------------------------------------------------------------
# (a) Usage spikes against the enterprise's own trailing median
# ---------------------------------------------------------------------------


def detect_usage_spikes(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Days on which a voucher's net covered amount exceeds a multiple of its
    median over the trailing days with usage (the enterprise's own normal).

    Days without usage are left out of the median, so an enterprise that
    works two days a week is compared with its working days.
    """
    settings_of = thresholds_or_default(thresholds)
    charges = by_voucher(charges_in(period))
    if not charges:
        return []
    longest = max(settings_of(v.program_id).spike_trailing_days for v in charges)
    totals = daily_totals(
        [v.pk for v in charges],
        period.start - datetime.timedelta(days=longest),
        period.end,
        F("covered") - F("reversed_amount"),
    )
    found = []
    for voucher, rows in charges.items():
        cfg = settings_of(voucher.program_id)
        days = totals.get(voucher.pk, {})
        spikes: list[dict[str, Any]] = []
        for day in sorted({local_day(r.occurred_at) for r in rows}):
            history = [
                total
                for d, total in days.items()
                if day - datetime.timedelta(days=cfg.spike_trailing_days) <= d < day and total > 0
            ]
            if len(history) < cfg.spike_min_active_days:
                continue
            median = Decimal(statistics.median(history))
            total = days.get(day, Decimal("0"))
            if median > 0 and total > cfg.spike_multiplier * median:
                spikes.append(
                    {
                        "day": day.isoformat(),
                        "covered": as_text(total),
                        "median": as_text(median),
                        "multiple": as_text(as_ratio(total / median)),
                        "history_days": len(history),
                        "redemption_ids": ids_of(
                            r for r in rows if local_day(r.occurred_at) == day
                        ),
                    }
                )
        if spikes:
            worst = max(Decimal(s["multiple"]) for s in spikes)
            found.append(
                Candidate(
                    detector=Detector.USAGE_SPIKE,
                    period=period,
                    score=worst,
                    evidence={
                        "measured": as_text(worst),
                        "measure": "multiple of the trailing median of daily covered amounts",
                        "threshold": as_text(cfg.spike_multiplier),
                        "trailing_days": cfg.spike_trailing_days,
                        "unit": voucher.unit,
                        "days": spikes,
                        "redemption_ids": ids_of(i for s in spikes for i in s["redemption_ids"]),
                    },
                ).for_voucher(voucher, rows)
            )
    return found


# ---------------------------------------------------------------------------
# (b) Usage beyond what the declared headcount could consume
# ---------------------------------------------------------------------------


def detect_headcount_excess(
    period: Period, thresholds: Thresholds | None = None
) -> list[Candidate]:
    """Days on which a voucher's bills per declared head exceed the program's
    plausible daily consumption per person (yuan or points)."""
    settings_of = thresholds_or_default(thresholds)
    found = []
    for voucher, rows in by_voucher(charges_in(period)).items():
        cfg = settings_of(voucher.program_id)
        heads = max(voucher.enterprise.headcount, 1)
        limit = (
            Decimal(cfg.per_head_daily_points)
            if voucher.unit == Program.Unit.POINTS
            else cfg.per_head_daily_cny
        )
        per_day: dict[datetime.date, list[Redemption]] = defaultdict(list)
        for r in rows:
            per_day[local_day(r.occurred_at)].append(r)
        days: list[dict[str, Any]] = []
        for day, day_rows in sorted(per_day.items()):
            billed = sum((bill_of(r) for r in day_rows), Decimal("0"))
            per_head = billed / heads
            if per_head > limit:
                days.append(
                    {
                        "day": day.isoformat(),
                        "billed": as_text(billed),
                        "per_head": as_text(per_head.quantize(Decimal("0.01"))),
                        "redemption_ids": ids_of(day_rows),
                    }
                )
        if days:
            worst = max(Decimal(d["per_head"]) for d in days)
            found.append(
                Candidate(
                    detector=Detector.HEADCOUNT,
                    period=period,
                    score=worst,
                    evidence={
                        "measured": as_text(worst),
                        "measure": "billed per declared head per day",
                        "threshold": as_text(limit),
                        "headcount": voucher.enterprise.headcount,
                        "unit": voucher.unit,
                        "days": days,
                        "redemption_ids": ids_of(i for d in days for i in d["redemption_ids"]),
                    },
                ).for_voucher(voucher, rows)
            )
    return found


# ---------------------------------------------------------------------------
# (g) Balance drained in the last days before expiry
# ---------------------------------------------------------------------------


def detect_expiry_drain(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Vouchers whose charges in their last ``drain_days`` before expiry (up to
    the period's end) took at least ``drain_share`` of the face value."""
    settings_of = thresholds_or_default(thresholds)
    start, end = period.bounds()
    vouchers = Voucher.objects.filter(
        expires_at__gt=start, expires_at__lte=end + datetime.timedelta(days=366)
    ).select_related("program", "enterprise")
    found = []
    for voucher in vouchers:
        cfg = settings_of(voucher.program_id)
        drain_from = voucher.expires_at - datetime.timedelta(days=cfg.drain_days)
        if drain_from >= end:
            continue
        rows = list(
            voucher.redemptions.filter(
                occurred_at__gte=drain_from, occurred_at__lt=min(voucher.expires_at, end)
            )
            .exclude(status=Redemption.Status.REVERSED)
            .order_by("occurred_at", "id")
        )
        drained = sum((r.covered - r.reversed_amount for r in rows), Decimal("0"))
        share = drained / voucher.face_value
        if share < cfg.drain_share:
            continue
        found.append(
            Candidate(
                detector=Detector.EXPIRY_DRAIN,
                period=Period(local_day(drain_from), local_day(voucher.expires_at)),
                score=as_ratio(share),
                evidence={
                    "measured": as_text(as_ratio(share)),
                    "measure": "share of the face value covered in the last days before expiry",
                    "threshold": as_text(cfg.drain_share),
                    "drain_days": cfg.drain_days,
                    "unit": voucher.unit,
                    "face_value": as_text(voucher.face_value),
                    "drained": as_text(drained),
                    "expires_at": timezone.localtime(voucher.expires_at).isoformat(),
                    "redemption_ids": ids_of(rows),
                },
            ).for_voucher(voucher, rows)
        )
    return found
