"""Catalog detectors: bills off the catalog price, points drifting from the catalog."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oversight.detectors import detect_catalog_price, detect_points_drift
from programs.models import Program
from tests.oversight.detector_helpers import at, charge, last_days, setup
from tests.platforms.factories import ModelCatalogEntryFactory

pytestmark = pytest.mark.django_db


def line(entry, input_tokens: int, output_tokens: int, points: int | None = None) -> dict:
    expected = (
        input_tokens * entry.points_input_per_1k + output_tokens * entry.points_output_per_1k + 500
    ) // 1000
    return {
        "model": entry.model_id,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "points": expected if points is None else points,
        "catalog_entry_id": entry.pk,
    }


# --- (e) price ------------------------------------------------------------------


def test_bills_at_the_catalog_price_are_not_flagged() -> None:
    voucher, platform = setup()
    entry = ModelCatalogEntryFactory(platform=platform)
    for d in (9, 7, 5, 3):
        # 100 M input at ¥0.004 and 20 M output at ¥0.021 per 1,000: ¥820.
        charge(
            voucher, platform, at(d), billed="820.00", usage=[line(entry, 100_000_000, 20_000_000)]
        )
    assert detect_catalog_price(last_days(30)) == []


def test_bills_above_the_catalog_price_are_flagged_with_the_charges() -> None:
    voucher, platform = setup()
    entry = ModelCatalogEntryFactory(platform=platform)
    charge(voucher, platform, at(9), billed="820.00", usage=[line(entry, 100_000_000, 20_000_000)])
    inflated = charge(
        voucher, platform, at(5), billed="1000.00", usage=[line(entry, 100_000_000, 20_000_000)]
    )
    [flag] = detect_catalog_price(last_days(30))
    assert flag.platform_id == platform.pk
    assert flag.voucher_id == voucher.pk
    assert flag.evidence["redemption_ids"] == [inflated.pk]
    [row] = flag.evidence["charges"]
    assert row["billed"] == "1000"
    assert row["catalog_price"] == "820"
    assert Decimal(row["deviation"]) == Decimal("0.2195")


def test_a_difference_within_the_tolerance_is_not_flagged() -> None:
    voucher, platform = setup()
    entry = ModelCatalogEntryFactory(platform=platform)
    charge(voucher, platform, at(5), billed="830.00", usage=[line(entry, 100_000_000, 20_000_000)])
    assert detect_catalog_price(last_days(30)) == []


# --- (f) points drift -------------------------------------------------------------


def test_points_at_the_catalog_rate_do_not_drift() -> None:
    voucher, platform = setup(unit=Program.Unit.POINTS)
    entry = ModelCatalogEntryFactory(platform=platform)
    for d in (9, 6, 3):
        usage = [line(entry, 1_000_000, 200_000)]
        charge(voucher, platform, at(d), points=usage[0]["points"], usage=usage)
    assert detect_points_drift(last_days(30)) == []


def test_points_charged_above_the_catalog_rate_drift() -> None:
    voucher, platform = setup(unit=Program.Unit.POINTS)
    entry = ModelCatalogEntryFactory(platform=platform)
    rows = []
    for d in (9, 6, 3):
        # The catalog says 2,050,000 points; the platform charges 2,400,000.
        usage = [line(entry, 1_000_000, 200_000, points=2_400_000)]
        rows.append(charge(voucher, platform, at(d), points=2_400_000, usage=usage))
    [flag] = detect_points_drift(last_days(30))
    assert flag.platform_id == platform.pk
    assert flag.program_id == voucher.program_id
    assert flag.evidence["points_charged"] == 7_200_000
    assert flag.evidence["points_by_catalog"] == 6_150_000
    assert flag.evidence["redemption_ids"] == [r.pk for r in rows]
    assert flag.score == Decimal("0.1707")
