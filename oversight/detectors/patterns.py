"""Billing-pattern detectors: round-number bills, evenly spaced bills, and
usage at hours the enterprise never otherwise works."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from oversight.detectors.base import (
    MAX_IDS,
    NIGHT_MIN_DAYTIME,
    OFFICE_HOURS,
    OFFICE_SHARE,
    PATTERN_WINDOW_DAYS,
    Candidate,
    Detector,
    Period,
    Thresholds,
    as_ratio,
    as_text,
    bill_of,
    by_voucher,
    charges_in,
    ids_of,
    thresholds_or_default,
)
from programs.models import Program

# ---------------------------------------------------------------------------
# (c) Round-number bills and evenly spaced bills
# ---------------------------------------------------------------------------


def detect_round_bills(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Vouchers whose bills in the window are mostly whole multiples of a round
    amount (real metered usage rarely is)."""
    settings_of = thresholds_or_default(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    found = []
    for voucher, rows in by_voucher(charges_in(window)).items():
        cfg = settings_of(voucher.program_id)
        if len(rows) < cfg.round_min_bills:
            continue
        unit = (
            Decimal(cfg.round_unit_points)
            if voucher.unit == Program.Unit.POINTS
            else cfg.round_unit_cny
        )
        if unit <= 0:
            continue
        round_rows = [r for r in rows if bill_of(r) > 0 and bill_of(r) % unit == 0]
        share = Decimal(len(round_rows)) / Decimal(len(rows))
        if share >= cfg.round_share:
            found.append(
                Candidate(
                    detector=Detector.ROUND_BILLS,
                    period=window,
                    score=as_ratio(share),
                    evidence={
                        "measured": as_text(as_ratio(share)),
                        "measure": "share of bills that are whole multiples of the round amount",
                        "threshold": as_text(cfg.round_share),
                        "round_amount": as_text(unit),
                        "unit": voucher.unit,
                        "bills": len(rows),
                        "round_bills": len(round_rows),
                        "amounts": [as_text(bill_of(r)) for r in round_rows][:MAX_IDS],
                        "redemption_ids": ids_of(round_rows),
                    },
                ).for_voucher(voucher, rows)
            )
    return found


def detect_even_bills(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Vouchers with a run of bills at exactly the same interval, to the second."""
    settings_of = thresholds_or_default(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    found = []
    for voucher, rows in by_voucher(charges_in(window)).items():
        cfg = settings_of(voucher.program_id)
        need = cfg.even_min_intervals
        if len(rows) < need + 1:
            continue
        stamps = [int(r.occurred_at.timestamp()) for r in rows]
        best: tuple[int, int, int] = (0, 0, 0)  # run length, start index, interval
        run, start = 0, 0
        for i in range(1, len(stamps) - 1):
            gap = stamps[i] - stamps[i - 1]
            if gap > 0 and stamps[i + 1] - stamps[i] == gap:
                if run == 0:
                    start, run = i - 1, 2
                else:
                    run += 1
                if run > best[0]:
                    best = (run, start, gap)
            else:
                run = 0
        length, first, gap = best
        if length >= need:
            involved = rows[first : first + length + 1]
            found.append(
                Candidate(
                    detector=Detector.EVEN_BILLS,
                    period=window,
                    score=Decimal(length),
                    evidence={
                        "measured": str(length),
                        "measure": "consecutive equal intervals between bills",
                        "threshold": str(need),
                        "interval_seconds": gap,
                        "unit": voucher.unit,
                        "times": [timezone.localtime(r.occurred_at).isoformat() for r in involved],
                        "redemption_ids": ids_of(involved),
                    },
                ).for_voucher(voucher, rows)
            )
    return found


# ---------------------------------------------------------------------------
# (d) Usage at hours the enterprise never otherwise works
# ---------------------------------------------------------------------------


def detect_night_usage(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Vouchers with charges in the night hours although the enterprise's other
    charges keep office hours.

    Rule: at least ``night_min_redemptions`` charges between the night hours
    (default 01:00–05:00 China time), at least :data:`NIGHT_MIN_DAYTIME`
    other charges, and at least 90 % of those between 08:00 and 20:00. A
    round-the-clock user has charges in the evening and early morning too,
    so it is not flagged.
    """
    settings_of = thresholds_or_default(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    found = []
    for voucher, rows in by_voucher(charges_in(window)).items():
        cfg = settings_of(voucher.program_id)
        hours = [(r, timezone.localtime(r.occurred_at).hour) for r in rows]
        night = [r for r, h in hours if cfg.night_start_hour <= h < cfg.night_end_hour]
        other = [h for r, h in hours if not (cfg.night_start_hour <= h < cfg.night_end_hour)]
        if len(night) < cfg.night_min_redemptions or len(other) < NIGHT_MIN_DAYTIME:
            continue
        office = sum(1 for h in other if OFFICE_HOURS[0] <= h < OFFICE_HOURS[1])
        office_share = Decimal(office) / Decimal(len(other))
        if office_share < OFFICE_SHARE:
            continue
        found.append(
            Candidate(
                detector=Detector.NIGHT_USAGE,
                period=window,
                score=Decimal(len(night)),
                evidence={
                    "measured": str(len(night)),
                    "measure": "charges in the night hours",
                    "threshold": str(cfg.night_min_redemptions),
                    "night_hours": f"{cfg.night_start_hour:02d}:00–{cfg.night_end_hour:02d}:00",
                    "other_charges": len(other),
                    "office_hours_share": as_text(as_ratio(office_share)),
                    "unit": voucher.unit,
                    "times": [timezone.localtime(r.occurred_at).isoformat() for r in night][
                        :MAX_IDS
                    ],
                    "redemption_ids": ids_of(night),
                },
            ).for_voucher(voucher, rows)
        )
    return found
