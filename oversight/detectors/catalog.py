"""Catalog detectors: billing at a price that differs from the model catalog,
and points per token drifting from the catalog's rate."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from oversight.detectors.base import (
    MAX_IDS,
    PATTERN_WINDOW_DAYS,
    Candidate,
    Detector,
    Period,
    Thresholds,
    as_ratio,
    as_text,
    charges_in,
    ids_of,
    thresholds_or_default,
)
from platforms.catalog import POINTS_PER_YUAN
from platforms.models import ModelCatalogEntry
from programs.models import Program
from vouchers.models import Redemption

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
    settings_of = thresholds_or_default(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    rows = [
        r
        for r in charges_in(window).filter(
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
                        "billed": as_text(r.billed_amount),
                        "catalog_price": as_text(expected.quantize(Decimal("0.01"))),
                        "deviation": as_text(as_ratio(deviation)),
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
                "measured": as_text(worst),
                "measure": "largest relative difference between the bill and the catalog price",
                "threshold": as_text(settings_of(r.voucher.program_id).price_tolerance),
                "unit": Program.Unit.CNY,
                "billed_total": as_text(billed),
                "catalog_total": as_text(priced),
                "charges": mismatches[:MAX_IDS],
                "redemption_ids": ids_of(m["redemption_id"] for m in mismatches),
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
    settings_of = thresholds_or_default(thresholds)
    window = period.window(PATTERN_WINDOW_DAYS)
    rows = [
        r for r in charges_in(window).filter(voucher__unit=Program.Unit.POINTS) if _priced_lines(r)
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
                score=as_ratio(drift),
                evidence={
                    "measured": as_text(as_ratio(drift)),
                    "measure": "relative drift of points charged from the catalog's points",
                    "threshold": as_text(cfg.points_tolerance),
                    "unit": Program.Unit.POINTS,
                    "model": model_id,
                    "tokens": acc["tokens"],
                    "points_charged": acc["reported"],
                    "points_by_catalog": acc["expected"],
                    "charged_per_1k_tokens": as_text(
                        (Decimal(acc["reported"]) * 1000 / acc["tokens"]).quantize(Decimal("0.01"))
                    ),
                    "catalog_points_per_1k": [
                        entry.points_input_per_1k,
                        entry.points_output_per_1k,
                    ],
                    "points_per_1k_implied_by_price": [
                        as_text(entry.price_input_per_1k * POINTS_PER_YUAN),
                        as_text(entry.price_output_per_1k * POINTS_PER_YUAN),
                    ],
                    "redemption_ids": ids_of(acc["ids"]),
                },
                program_id=program_id,
                platform_id=platform_id,
            )
        )
    return found
