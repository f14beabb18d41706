"""Anomaly detectors: plain functions over a period that return flag candidates.

Each detector reads vouchers, redemptions, enterprises and platforms and
returns :class:`Candidate` rows with the evidence behind them (what was
measured, against which threshold, the redemptions involved); it writes
nothing. :func:`audit.flags.anomalies_detect` runs them all and stores the
candidates as :class:`audit.models.AnomalyFlag` rows.

Periods are calendar days in China time (``TIME_ZONE``), both ends inclusive.
What a flag's own period is depends on the detector:

- day-based detectors (spike, headcount) examine each day of the run's
  period and file one flag per voucher over the run's period;
- pattern detectors (round or even bills, night usage, catalog price, points
  drift, related parties) look at a window of at least
  :data:`PATTERN_WINDOW_DAYS` days ending on the period's last day, and file
  the flag over that window;
- the expiry drain files its flag over the voucher's last days;
- structural detectors (shared contacts, several districts) file theirs over
  the calendar year.

Thresholds are per program (:class:`audit.models.DetectorSettings`, defaults
when a program has none).
"""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ComputePlatform, Enterprise
from common.formatting import amount
from eligibility.duplicates import FundedElsewhere, funded_elsewhere_flags, shared_contact_flags
from platforms.catalog import POINTS_PER_YUAN
from platforms.models import ModelCatalogEntry
from programs.models import Program
from vouchers.models import Redemption, Voucher

from .models import AnomalyFlag, DetectorSettings

Detector = AnomalyFlag.Detector

#: Pattern detectors look at no less than this many days.
PATTERN_WINDOW_DAYS = 30
#: Office hours (China time) against which night usage is judged.
OFFICE_HOURS = (8, 20)
#: Share of an enterprise's non-night charges that must fall in office hours.
OFFICE_SHARE = Decimal("0.90")
#: Non-night charges needed before an enterprise's usual hours are known.
NIGHT_MIN_DAYTIME = 5
#: How many redemption ids evidence lists at most.
MAX_IDS = 50


@dataclass(frozen=True)
class Period:
    """Calendar days (China time) from ``start`` to ``end``, both inclusive."""

    start: datetime.date
    end: datetime.date

    @classmethod
    def ending(cls, day: datetime.date, days: int = 1) -> Period:
        return cls(day - datetime.timedelta(days=max(days, 1) - 1), day)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def window(self, days: int) -> Period:
        """This period, widened backwards to at least ``days`` days."""
        if self.days >= days:
            return self
        return Period.ending(self.end, days)

    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        """The first moment of ``start`` and the first moment after ``end``."""
        return day_start(self.start), day_start(self.end + datetime.timedelta(days=1))

    def year(self) -> Period:
        return Period(datetime.date(self.end.year, 1, 1), datetime.date(self.end.year, 12, 31))


def day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def local_day(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


@dataclass
class Candidate:
    """A flag a detector proposes: subject, period, measured value and evidence."""

    detector: str
    period: Period
    score: Decimal
    evidence: dict[str, Any]
    # Filled by for_voucher() for flags about one voucher.
    district_id: int = 0
    subject: str = ""
    program_id: int | None = None
    enterprise_id: int | None = None
    voucher_id: int | None = None
    platform_id: int | None = None

    def for_voucher(self, voucher: Voucher, rows: Iterable[Redemption] = ()) -> Candidate:
        """Name the voucher, its program and enterprise, and the platform when
        every charge involved was made on one; the district and subject
        default to the voucher's program district and the voucher itself."""
        self.district_id = self.district_id or voucher.program.district_id
        self.subject = self.subject or f"voucher:{voucher.pk}"
        self.program_id = voucher.program_id
        self.enterprise_id = voucher.enterprise_id
        self.voucher_id = voucher.pk
        platforms = {r.platform_id for r in rows}
        if self.platform_id is None and len(platforms) == 1:
            self.platform_id = platforms.pop()
        return self


class Thresholds:
    """Each program's detector settings, loaded once per run (defaults when none)."""

    def __init__(self, rows: Iterable[DetectorSettings] | None = None) -> None:
        if rows is None:
            rows = DetectorSettings.objects.all()
        self._rows = {row.program_id: row for row in rows}
        self._default = DetectorSettings()

    def __call__(self, program_id: int) -> DetectorSettings:
        return self._rows.get(program_id, self._default)


def _thresholds(thresholds: Thresholds | None) -> Thresholds:
    return thresholds if thresholds is not None else Thresholds()


def _text(value: Decimal | int | None) -> str | None:
    """A number as plain text for the evidence (JSON has no decimals)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _ratio(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"))


def _ids(rows: Iterable[Any]) -> list[int]:
    return [r if isinstance(r, int) else r.pk for r in rows][:MAX_IDS]


def _charges(period: Period) -> QuerySet[Redemption]:
    """The period's charges that still stand (fully reversed ones are left out)."""
    start, end = period.bounds()
    return (
        Redemption.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .exclude(status=Redemption.Status.REVERSED)
        .select_related("voucher__program", "voucher__enterprise", "platform")
        .order_by("occurred_at", "id")
    )


def _by_voucher(redemptions: Iterable[Redemption]) -> dict[Voucher, list[Redemption]]:
    grouped: dict[int, list[Redemption]] = defaultdict(list)
    vouchers: dict[int, Voucher] = {}
    for r in redemptions:
        grouped[r.voucher_id].append(r)
        vouchers[r.voucher_id] = r.voucher
    return {vouchers[pk]: rows for pk, rows in grouped.items()}


def _bill(redemption: Redemption) -> Decimal:
    """What the platform billed: yuan for CNY programs, points for POINTS programs."""
    if redemption.voucher.unit == Program.Unit.POINTS:
        return Decimal(redemption.points_used or 0)
    return redemption.billed_amount or Decimal("0")


def _daily(vouchers: Iterable[int], start: datetime.date, end: datetime.date, value: Any) -> dict:
    """{voucher id: {day: total}} of ``value`` over the days ``start``…``end``."""
    qs = (
        Redemption.objects.filter(
            voucher_id__in=list(vouchers),
            occurred_at__gte=day_start(start),
            occurred_at__lt=day_start(end + datetime.timedelta(days=1)),
        )
        .exclude(status=Redemption.Status.REVERSED)
        .annotate(day=TruncDate("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values("voucher_id", "day")
        .annotate(total=Sum(value))
    )
    totals: dict[int, dict[datetime.date, Decimal]] = defaultdict(dict)
    for row in qs:
        totals[row["voucher_id"]][row["day"]] = Decimal(row["total"] or 0)
    return totals


# ---------------------------------------------------------------------------
# (a) Usage spikes against the enterprise's own trailing median
# ---------------------------------------------------------------------------


def detect_usage_spikes(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Days on which a voucher's net covered amount exceeds a multiple of its
    median over the trailing days with usage (the enterprise's own normal).

    Days without usage are left out of the median, so an enterprise that
    works two days a week is compared with its working days.
    """
    settings_of = _thresholds(thresholds)
    charges = _by_voucher(_charges(period))
    if not charges:
        return []
    longest = max(settings_of(v.program_id).spike_trailing_days for v in charges)
    totals = _daily(
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
                        "covered": _text(total),
                        "median": _text(median),
                        "multiple": _text(_ratio(total / median)),
                        "history_days": len(history),
                        "redemption_ids": _ids(r for r in rows if local_day(r.occurred_at) == day),
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
                        "measured": _text(worst),
                        "measure": "multiple of the trailing median of daily covered amounts",
                        "threshold": _text(cfg.spike_multiplier),
                        "trailing_days": cfg.spike_trailing_days,
                        "unit": voucher.unit,
                        "days": spikes,
                        "redemption_ids": _ids(i for s in spikes for i in s["redemption_ids"]),
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
    settings_of = _thresholds(thresholds)
    found = []
    for voucher, rows in _by_voucher(_charges(period)).items():
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
            billed = sum((_bill(r) for r in day_rows), Decimal("0"))
            per_head = billed / heads
            if per_head > limit:
                days.append(
                    {
                        "day": day.isoformat(),
                        "billed": _text(billed),
                        "per_head": _text(per_head.quantize(Decimal("0.01"))),
                        "redemption_ids": _ids(day_rows),
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
                        "measured": _text(worst),
                        "measure": "billed per declared head per day",
                        "threshold": _text(limit),
                        "headcount": voucher.enterprise.headcount,
                        "unit": voucher.unit,
                        "days": days,
                        "redemption_ids": _ids(i for d in days for i in d["redemption_ids"]),
                    },
                ).for_voucher(voucher, rows)
            )
    return found


# ---------------------------------------------------------------------------
# (c) Round-number bills and evenly spaced bills
# ---------------------------------------------------------------------------


def detect_round_bills(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Vouchers whose bills in the window are mostly whole multiples of a round
    amount (real metered usage rarely is)."""
    settings_of = _thresholds(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    found = []
    for voucher, rows in _by_voucher(_charges(window)).items():
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
        round_rows = [r for r in rows if _bill(r) > 0 and _bill(r) % unit == 0]
        share = Decimal(len(round_rows)) / Decimal(len(rows))
        if share >= cfg.round_share:
            found.append(
                Candidate(
                    detector=Detector.ROUND_BILLS,
                    period=window,
                    score=_ratio(share),
                    evidence={
                        "measured": _text(_ratio(share)),
                        "measure": "share of bills that are whole multiples of the round amount",
                        "threshold": _text(cfg.round_share),
                        "round_amount": _text(unit),
                        "unit": voucher.unit,
                        "bills": len(rows),
                        "round_bills": len(round_rows),
                        "amounts": [_text(_bill(r)) for r in round_rows][:MAX_IDS],
                        "redemption_ids": _ids(round_rows),
                    },
                ).for_voucher(voucher, rows)
            )
    return found


def detect_even_bills(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Vouchers with a run of bills at exactly the same interval, to the second."""
    settings_of = _thresholds(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    found = []
    for voucher, rows in _by_voucher(_charges(window)).items():
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
                        "redemption_ids": _ids(involved),
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
    settings_of = _thresholds(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    found = []
    for voucher, rows in _by_voucher(_charges(window)).items():
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
                    "office_hours_share": _text(_ratio(office_share)),
                    "unit": voucher.unit,
                    "times": [timezone.localtime(r.occurred_at).isoformat() for r in night][
                        :MAX_IDS
                    ],
                    "redemption_ids": _ids(night),
                },
            ).for_voucher(voucher, rows)
        )
    return found


# ---------------------------------------------------------------------------
# (e) Billing at a price that differs from the model catalog
# (f) Points per token drifting from the catalog
# ---------------------------------------------------------------------------


def _priced_lines(redemption: Redemption) -> list[dict[str, Any]]:
    lines = redemption.usage if isinstance(redemption.usage, list) else []
    return [
        line
        for line in lines
        if isinstance(line, dict) and line.get("catalog_entry_id") is not None
    ]


def _catalog(redemptions: Iterable[Redemption]) -> dict[int, ModelCatalogEntry]:
    ids = {
        int(line["catalog_entry_id"])
        for r in redemptions
        for line in _priced_lines(r)
        if str(line["catalog_entry_id"]).isdigit()
    }
    return ModelCatalogEntry.objects.in_bulk(list(ids))


def _tokens(line: dict[str, Any], name: str) -> int:
    value = line.get(name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def detect_catalog_price(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Charges in yuan whose billed amount differs from the catalog price of
    their usage lines (tokens × the catalog row each line names) by more than
    the program's tolerance; one flag per voucher and platform."""
    settings_of = _thresholds(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    rows = [
        r
        for r in _charges(window).filter(
            voucher__unit=Program.Unit.CNY, billed_amount__isnull=False
        )
        if _priced_lines(r)
    ]
    catalog = _catalog(rows)
    grouped: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    subjects: dict[tuple[int, int], Redemption] = {}
    for r in rows:
        expected = Decimal("0")
        for line in _priced_lines(r):
            entry = catalog.get(int(line["catalog_entry_id"]))
            if entry is None:
                break
            expected += (
                _tokens(line, "input_tokens") * entry.price_input_per_1k
                + _tokens(line, "output_tokens") * entry.price_output_per_1k
            ) / 1000
        else:
            if expected <= 0:
                continue
            billed = r.billed_amount or Decimal("0")
            deviation = (billed - expected) / expected
            if abs(deviation) > settings_of(r.voucher.program_id).price_tolerance:
                key = (r.voucher_id, r.platform_id)
                subjects[key] = r
                grouped[key].append(
                    {
                        "redemption_id": r.pk,
                        "reference": r.reference,
                        "billed": _text(r.billed_amount),
                        "catalog_price": _text(expected.quantize(Decimal("0.01"))),
                        "deviation": _text(_ratio(deviation)),
                    }
                )
    found = []
    for key, mismatches in grouped.items():
        r = subjects[key]
        worst = max((Decimal(m["deviation"]) for m in mismatches), key=abs)
        billed = sum((Decimal(m["billed"]) for m in mismatches), Decimal("0"))
        priced = sum((Decimal(m["catalog_price"]) for m in mismatches), Decimal("0"))
        candidate = Candidate(
            detector=Detector.CATALOG_PRICE,
            district_id=r.voucher.program.district_id,
            subject=f"voucher:{r.voucher_id}/platform:{r.platform_id}",
            period=window,
            score=worst,
            evidence={
                "measured": _text(worst),
                "measure": "largest relative difference between the bill and the catalog price",
                "threshold": _text(settings_of(r.voucher.program_id).price_tolerance),
                "unit": Program.Unit.CNY,
                "billed_total": _text(billed),
                "catalog_total": _text(priced),
                "charges": mismatches[:MAX_IDS],
                "redemption_ids": _ids(m["redemption_id"] for m in mismatches),
            },
        ).for_voucher(r.voucher)
        candidate.platform_id = r.platform_id
        found.append(candidate)
    return found


def detect_points_drift(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Per platform, model and program (in points): the points charged per
    1,000 tokens, summed over the window, against the catalog's rate for the
    same tokens; flagged when they drift apart by more than the tolerance.

    Each line is recomputed from the catalog row it names (the rounding of
    :mod:`platforms.catalog`); the catalog's own rate is also compared with
    its price (``price × 250,000`` points per yuan), so a catalog whose
    points no longer match its price shows in the evidence.
    """
    settings_of = _thresholds(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    rows = [
        r for r in _charges(window).filter(voucher__unit=Program.Unit.POINTS) if _priced_lines(r)
    ]
    catalog = _catalog(rows)
    sums: dict[tuple[int, int, str], dict[str, Any]] = {}
    for r in rows:
        for line in _priced_lines(r):
            entry = catalog.get(int(line["catalog_entry_id"]))
            reported = line.get("points")
            if entry is None or not isinstance(reported, int):
                continue
            tin, tout = _tokens(line, "input_tokens"), _tokens(line, "output_tokens")
            expected = (
                tin * entry.points_input_per_1k + tout * entry.points_output_per_1k + 500
            ) // 1000
            key = (r.platform_id, r.voucher.program_id, entry.model_id)
            acc = sums.setdefault(
                key,
                {
                    "district_id": r.voucher.program.district_id,
                    "tokens": 0,
                    "reported": 0,
                    "expected": 0,
                    "entry": entry,
                    "ids": [],
                },
            )
            acc["tokens"] += tin + tout
            acc["reported"] += reported
            acc["expected"] += expected
            if r.pk not in acc["ids"]:
                acc["ids"].append(r.pk)
    found = []
    for (platform_id, program_id, model_id), acc in sums.items():
        if acc["expected"] <= 0 or acc["tokens"] <= 0:
            continue
        drift = Decimal(acc["reported"] - acc["expected"]) / Decimal(acc["expected"])
        cfg = settings_of(program_id)
        if abs(drift) <= cfg.points_tolerance:
            continue
        entry = acc["entry"]
        found.append(
            Candidate(
                detector=Detector.POINTS_DRIFT,
                district_id=acc["district_id"],
                subject=f"platform:{platform_id}/model:{model_id}/program:{program_id}",
                period=window,
                score=_ratio(drift),
                evidence={
                    "measured": _text(_ratio(drift)),
                    "measure": "relative drift of points charged from the catalog's points",
                    "threshold": _text(cfg.points_tolerance),
                    "unit": Program.Unit.POINTS,
                    "model": model_id,
                    "tokens": acc["tokens"],
                    "points_charged": acc["reported"],
                    "points_by_catalog": acc["expected"],
                    "charged_per_1k_tokens": _text(
                        (Decimal(acc["reported"]) * 1000 / acc["tokens"]).quantize(Decimal("0.01"))
                    ),
                    "catalog_points_per_1k": [
                        entry.points_input_per_1k,
                        entry.points_output_per_1k,
                    ],
                    "points_per_1k_implied_by_price": [
                        _text(entry.price_input_per_1k * POINTS_PER_YUAN),
                        _text(entry.price_output_per_1k * POINTS_PER_YUAN),
                    ],
                    "redemption_ids": _ids(acc["ids"]),
                },
                program_id=program_id,
                platform_id=platform_id,
            )
        )
    return found


# ---------------------------------------------------------------------------
# (g) Balance drained in the last days before expiry
# ---------------------------------------------------------------------------


def detect_expiry_drain(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Vouchers whose charges in their last ``drain_days`` before expiry (up to
    the period's end) took at least ``drain_share`` of the face value."""
    settings_of = _thresholds(thresholds)
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
                score=_ratio(share),
                evidence={
                    "measured": _text(_ratio(share)),
                    "measure": "share of the face value covered in the last days before expiry",
                    "threshold": _text(cfg.drain_share),
                    "drain_days": cfg.drain_days,
                    "unit": voucher.unit,
                    "face_value": _text(voucher.face_value),
                    "drained": _text(drained),
                    "expires_at": timezone.localtime(voucher.expires_at).isoformat(),
                    "redemption_ids": _ids(rows),
                },
            ).for_voucher(voucher, rows)
        )
    return found


# ---------------------------------------------------------------------------
# (h) Enterprises sharing a legal representative, phone or address
# (i) The same USCC funded by several districts for the same kind
# ---------------------------------------------------------------------------


def _funded(year: Period) -> QuerySet[Voucher]:
    """Vouchers issued in the year that still count as funding (the rule of
    :func:`vouchers.selectors.vouchers_funded_in_year`)."""
    start, end = year.bounds()
    return (
        Voucher.objects.filter(issued_at__gte=start, issued_at__lt=end)
        .exclude(status__in=[Voucher.Status.REVOKED, Voucher.Status.CLAWED_BACK])
        .select_related("program__district", "enterprise")
    )


def _address_key(address: str) -> str:
    return "".join(address.split()).lower()


def _phone_key(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


SHARED_FIELDS: list[tuple[str, Callable[[Enterprise], str]]] = [
    ("legal_representative", lambda e: e.legal_representative.strip()),
    ("contact_phone", lambda e: _phone_key(e.contact_phone)),
    ("address", lambda e: _address_key(e.address)),
]


def detect_shared_contacts(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Funded enterprises (this year) that share a legal representative, a
    contact phone or a registered address; one flag per shared value and
    per district that funded one of them.

    The messages for representatives and phones come from
    :func:`eligibility.duplicates.shared_contact_flags`, the check reviewers
    see on applications.
    """
    year = period.year()
    districts: dict[int, set[int]] = defaultdict(set)
    enterprises: dict[int, Enterprise] = {}
    for v in _funded(year):
        districts[v.enterprise_id].add(v.program.district_id)
        enterprises[v.enterprise_id] = v.enterprise
    found = []
    for field_name, key_of in SHARED_FIELDS:
        buckets: dict[str, list[Enterprise]] = defaultdict(list)
        for e in enterprises.values():
            key = key_of(e)
            if key:
                buckets[key].append(e)
        for value, members in buckets.items():
            if len(members) < 2:
                continue
            members.sort(key=lambda e: e.pk)
            first = members[0]
            if field_name == "address":
                messages = [
                    _("%(other)s (%(uscc)s) gives the same registered address, %(address)s.")
                    % {"other": e.name, "uscc": e.uscc, "address": e.address}
                    for e in members[1:]
                ]
            else:
                wanted = {
                    "legal_representative": "shared_legal_representative",
                    "contact_phone": "shared_contact_phone",
                }[field_name]
                messages = [
                    f.message
                    for other in members[1:]
                    for f in shared_contact_flags(first, [other])
                    if f.code == wanted
                ]
            listed = [
                {
                    "id": e.pk,
                    "name": e.name,
                    "uscc": e.uscc,
                    "funded_by_districts": sorted(districts[e.pk]),
                }
                for e in members
            ]
            for district_id in sorted(set().union(*(districts[e.pk] for e in members))):
                found.append(
                    Candidate(
                        detector=Detector.SHARED_CONTACT,
                        district_id=district_id,
                        subject=f"{field_name}:{value}"[:200],
                        period=year,
                        score=Decimal(len(members)),
                        evidence={
                            "measured": str(len(members)),
                            "measure": "funded enterprises sharing the value",
                            "threshold": "2",
                            "shared": field_name,
                            "value": value,
                            "enterprises": listed,
                            "messages": messages,
                        },
                        enterprise_id=next(
                            (e.pk for e in members if district_id in districts[e.pk]), None
                        ),
                    )
                )
    return found


def detect_multi_district_funding(
    period: Period, thresholds: Thresholds | None = None
) -> list[Candidate]:
    """The same enterprise (USCC) holding vouchers of the same kind from
    programs of two or more districts in the year; one flag per district."""
    year = period.year()
    grants: dict[tuple[int, str], list[Voucher]] = defaultdict(list)
    for v in _funded(year):
        grants[(v.enterprise_id, v.program.kind)].append(v)
    found = []
    for (enterprise_id, kind), vouchers in grants.items():
        district_ids = {v.program.district_id for v in vouchers}
        if len(district_ids) < 2:
            continue
        enterprise = vouchers[0].enterprise
        for district_id in sorted(district_ids):
            own = [v for v in vouchers if v.program.district_id == district_id]
            elsewhere = [v for v in vouchers if v.program.district_id != district_id]
            messages = [
                f.message
                for f in funded_elsewhere_flags(
                    FundedElsewhere(
                        district_name=v.program.district.display_name,
                        program_name=v.program.display_name,
                        amount=f"{v.face_value:,.2f} {v.unit}",
                    )
                    for v in elsewhere
                )
            ]
            found.append(
                Candidate(
                    detector=Detector.MULTI_DISTRICT,
                    district_id=district_id,
                    subject=f"uscc:{enterprise.uscc}/kind:{kind}",
                    period=year,
                    score=Decimal(len(district_ids)),
                    evidence={
                        "measured": str(len(district_ids)),
                        "measure": "districts funding the same kind of voucher this year",
                        "threshold": "2",
                        "uscc": enterprise.uscc,
                        "kind": kind,
                        "vouchers": [
                            {
                                "voucher_id": v.pk,
                                "code": v.code,
                                "district": v.program.district.code,
                                "program": v.program.name,
                                "face_value": _text(v.face_value),
                                "unit": v.unit,
                            }
                            for v in vouchers
                        ],
                        "messages": messages,
                    },
                    program_id=own[0].program_id,
                    enterprise_id=enterprise_id,
                    voucher_id=own[0].pk if len(own) == 1 else None,
                )
            )
    return found


# ---------------------------------------------------------------------------
# (j) Platform and enterprise are related parties
# ---------------------------------------------------------------------------


def _norm_name(name: str) -> str:
    return "".join(name.split()).replace("（", "(").replace("）", ")").lower()


def related_party_reason(platform: ComputePlatform, enterprise: Enterprise) -> str | None:
    """Why a platform and an enterprise are related parties, or None.

    The rule: the platform's operating company *is* the enterprise (its
    operator's USCC is the enterprise's USCC, or the operator's name is the
    enterprise's name), or the operator is itself a registered enterprise
    that shares the enterprise's legal representative or contact phone
    (:func:`eligibility.duplicates.shared_contact_flags`).
    """
    if platform.operator_uscc and platform.operator_uscc == enterprise.uscc:
        return "operator_uscc"
    if platform.operator and _norm_name(platform.operator) == _norm_name(enterprise.name):
        return "operator_name"
    if platform.operator_uscc:
        operator = Enterprise.objects.filter(uscc=platform.operator_uscc).first()
        if operator is not None and operator.pk != enterprise.pk:
            shared = shared_contact_flags(operator, [enterprise])
            if shared:
                return shared[0].code
    return None


def detect_related_parties(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Vouchers charged in the window by a platform related to the voucher's
    enterprise (see :func:`related_party_reason`); one flag per voucher and
    platform, with the charges."""
    window = period.window(PATTERN_WINDOW_DAYS)
    pairs: dict[tuple[int, int], list[Redemption]] = defaultdict(list)
    for r in _charges(window):
        pairs[(r.voucher_id, r.platform_id)].append(r)
    found = []
    reasons: dict[tuple[int, int], str | None] = {}
    for (_voucher_id, _platform_id), rows in pairs.items():
        voucher, platform = rows[0].voucher, rows[0].platform
        key = (platform.pk, voucher.enterprise_id)
        if key not in reasons:
            reasons[key] = related_party_reason(platform, voucher.enterprise)
        reason = reasons[key]
        if reason is None:
            continue
        covered = sum((r.covered - r.reversed_amount for r in rows), Decimal("0"))
        candidate = Candidate(
            detector=Detector.RELATED_PARTY,
            district_id=voucher.program.district_id,
            subject=f"voucher:{voucher.pk}/platform:{platform.pk}",
            period=window,
            score=covered,
            evidence={
                "measured": _text(covered),
                "measure": "covered by the related platform in the window",
                "threshold": "0",
                "unit": voucher.unit,
                "rule": reason,
                "platform": platform.slug,
                "operator": platform.operator,
                "operator_uscc": platform.operator_uscc,
                "enterprise": voucher.enterprise.name,
                "enterprise_uscc": voucher.enterprise.uscc,
                "charges": len(rows),
                "redemption_ids": _ids(rows),
            },
        ).for_voucher(voucher)
        candidate.platform_id = platform.pk
        found.append(candidate)
    return found


DETECTORS: dict[str, Callable[[Period, Thresholds | None], list[Candidate]]] = {
    Detector.USAGE_SPIKE: detect_usage_spikes,
    Detector.HEADCOUNT: detect_headcount_excess,
    Detector.ROUND_BILLS: detect_round_bills,
    Detector.EVEN_BILLS: detect_even_bills,
    Detector.NIGHT_USAGE: detect_night_usage,
    Detector.CATALOG_PRICE: detect_catalog_price,
    Detector.POINTS_DRIFT: detect_points_drift,
    Detector.EXPIRY_DRAIN: detect_expiry_drain,
    Detector.SHARED_CONTACT: detect_shared_contacts,
    Detector.MULTI_DISTRICT: detect_multi_district_funding,
    Detector.RELATED_PARTY: detect_related_parties,
}


def detect_all(period: Period, thresholds: Thresholds | None = None) -> list[Candidate]:
    """Every detector's candidates for the period."""
    thresholds = _thresholds(thresholds)
    return [c for detect in DETECTORS.values() for c in detect(period, thresholds)]


#: Detectors whose measured value and threshold are shares (shown as percentages).
SHARE_DETECTORS = {
    Detector.ROUND_BILLS,
    Detector.CATALOG_PRICE,
    Detector.POINTS_DRIFT,
    Detector.EXPIRY_DRAIN,
}
#: Detectors whose measured value and threshold are amounts in the voucher's unit.
AMOUNT_DETECTORS = {Detector.HEADCOUNT, Detector.RELATED_PARTY}


def shown_value(value: Any, detector: str, unit: str) -> str:
    """A measured value or threshold as people read it: a percentage, an amount
    with its unit, or a plain number, depending on the detector."""
    try:
        number = Decimal(str(value))
    except (ArithmeticError, ValueError):
        return str(value)
    if detector in SHARE_DETECTORS:
        return f"{(number * 100).quantize(Decimal('0.1')).normalize():f} %"
    if detector in AMOUNT_DETECTORS:
        return amount(number, unit or Program.Unit.CNY)
    return f"{number.normalize():f}"


def flag_summary(flag: AnomalyFlag) -> str:
    """One sentence about a flag in the active language, from its evidence."""
    ev = flag.evidence or {}
    unit = ev.get("unit", "")
    values = {
        "measured": shown_value(ev.get("measured", flag.score), flag.detector, unit),
        "threshold": shown_value(ev.get("threshold", "0"), flag.detector, unit),
    }
    texts: dict[str, str] = {
        Detector.USAGE_SPIKE: _(
            "Daily usage reached %(measured)s× the trailing median (limit %(threshold)s×)."
        ),
        Detector.HEADCOUNT: _(
            "Up to %(measured)s per declared head per day (limit %(threshold)s)."
        ),
        Detector.ROUND_BILLS: _(
            "%(measured)s of the bills are round amounts (limit %(threshold)s)."
        ),
        Detector.EVEN_BILLS: _(
            "%(measured)s equal intervals in a row between bills (limit %(threshold)s)."
        ),
        Detector.NIGHT_USAGE: _(
            "%(measured)s charges at night from an enterprise that keeps office hours "
            "(limit %(threshold)s)."
        ),
        Detector.CATALOG_PRICE: _(
            "Bills differ from the catalog price by up to %(measured)s (tolerance %(threshold)s)."
        ),
        Detector.POINTS_DRIFT: _(
            "Points charged drift %(measured)s from the catalog (tolerance %(threshold)s)."
        ),
        Detector.EXPIRY_DRAIN: _(
            "%(measured)s of the face value used in the last days before expiry "
            "(limit %(threshold)s)."
        ),
        Detector.SHARED_CONTACT: _("%(measured)s funded enterprises share this contact detail."),
        Detector.MULTI_DISTRICT: _(
            "Funded by %(measured)s districts for the same kind of voucher this year."
        ),
        Detector.RELATED_PARTY: _("%(measured)s covered by a platform related to the enterprise."),
    }
    template = texts.get(flag.detector, "%(measured)s")
    return template % values


__all__ = [
    "DETECTORS",
    "Candidate",
    "Period",
    "Thresholds",
    "detect_all",
    "flag_summary",
    "shown_value",
    "related_party_reason",
    *[f.__name__ for f in DETECTORS.values()],
]
