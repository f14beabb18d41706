"""Usage-pattern detectors: spikes, headcount, round and even bills, night hours.

Each detector catches its crafted fraud and leaves a normal month alone.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from oversight.detectors import (
    Thresholds,
    detect_even_bills,
    detect_headcount_excess,
    detect_night_usage,
    detect_round_bills,
    detect_usage_spikes,
)
from oversight.models import AnomalyFlag, DetectorSettings
from programs.models import Program
from tests.oversight.detector_helpers import at, charge, last_days, normal_month, setup

pytestmark = pytest.mark.django_db

DETECTORS = [
    detect_usage_spikes,
    detect_headcount_excess,
    detect_round_bills,
    detect_even_bills,
    detect_night_usage,
]


@pytest.mark.parametrize("unit", [Program.Unit.CNY, Program.Unit.POINTS])
@pytest.mark.parametrize("detect", DETECTORS, ids=lambda d: d.__name__)
def test_a_normal_month_is_not_flagged(detect, unit) -> None:
    voucher, platform = setup(unit=unit)
    normal_month(voucher, platform)
    assert detect(last_days(30)) == []


# --- (a) spikes ----------------------------------------------------------------


def test_a_day_at_ten_times_the_trailing_median_is_a_spike() -> None:
    voucher, platform = setup()
    normal_month(voucher, platform)
    spike = charge(voucher, platform, at(2, hour=11), billed="12000.00")
    [flag] = detect_usage_spikes(last_days(30))
    assert flag.detector == AnomalyFlag.Detector.USAGE_SPIKE
    assert flag.voucher_id == voucher.pk
    assert flag.district_id == voucher.program.district_id
    [day] = flag.evidence["days"]
    assert spike.pk in day["redemption_ids"]
    assert flag.evidence["threshold"] == "5"
    assert Decimal(day["multiple"]) > 5
    assert flag.evidence["unit"] == "CNY"


def test_no_spike_is_judged_without_enough_history() -> None:
    voucher, platform = setup()
    charge(voucher, platform, at(5), billed="1000.00")
    charge(voucher, platform, at(4), billed="1100.00")
    charge(voucher, platform, at(2), billed="90000.00")
    assert detect_usage_spikes(last_days(30)) == []


def test_the_spike_multiplier_is_per_program() -> None:
    voucher, platform = setup()
    normal_month(voucher, platform)
    charge(voucher, platform, at(2, hour=11), billed="5000.00")
    DetectorSettings.objects.create(program=voucher.program, spike_multiplier=Decimal("20"))
    assert detect_usage_spikes(last_days(30), Thresholds()) == []


# --- (b) headcount ---------------------------------------------------------------


def test_a_three_person_company_billing_a_data_centre_is_flagged() -> None:
    voucher, platform = setup(headcount=3)
    big = [charge(voucher, platform, at(d), billed="18000.00") for d in (6, 5)]
    charge(voucher, platform, at(4), billed="7000.00")  # 2,333 a head: plausible
    [flag] = detect_headcount_excess(last_days(30))
    assert [d["redemption_ids"] for d in flag.evidence["days"]] == [[big[0].pk], [big[1].pk]]
    assert flag.evidence["headcount"] == 3
    assert flag.evidence["threshold"] == "5000"
    assert flag.score == Decimal("6000")


def test_points_per_head_use_the_points_threshold() -> None:
    voucher, platform = setup(unit=Program.Unit.POINTS, headcount=1)
    charge(voucher, platform, at(3), points=25_000_000)
    [flag] = detect_headcount_excess(last_days(30))
    assert flag.evidence["unit"] == "POINTS"
    assert flag.evidence["threshold"] == "20000000"


# --- (c) round and even bills -----------------------------------------------------


def test_bills_in_whole_thousands_are_round() -> None:
    voucher, platform = setup()
    rows = [
        charge(
            voucher, platform, at(d, hour=9 + d % 7, minute=d), billed=f"{(d % 4 + 2) * 1000}.00"
        )
        for d in (20, 17, 13, 9, 6, 3)
    ]
    [flag] = detect_round_bills(last_days(30))
    assert flag.evidence["round_bills"] == 6
    assert flag.evidence["redemption_ids"] == [r.pk for r in rows]
    assert flag.score == Decimal("1")


def test_a_few_round_bills_among_many_are_not_a_pattern() -> None:
    voucher, platform = setup()
    normal_month(voucher, platform)
    charge(voucher, platform, at(3, hour=15), billed="2000.00")
    assert detect_round_bills(last_days(30)) == []


def test_bills_exactly_one_day_apart_to_the_second_are_even() -> None:
    voucher, platform = setup()
    rows = [
        charge(voucher, platform, at(d, hour=14, minute=3, second=27), billed=f"{1000 + d * 37}.45")
        for d in (12, 11, 10, 9, 8, 7)
    ]
    [flag] = detect_even_bills(last_days(30))
    assert flag.evidence["interval_seconds"] == 86400
    assert flag.evidence["redemption_ids"] == [r.pk for r in rows]
    assert flag.score == 5


def test_bills_a_few_seconds_off_are_not_even() -> None:
    voucher, platform = setup()
    for i, d in enumerate((12, 11, 10, 9, 8, 7)):
        charge(voucher, platform, at(d, hour=14, minute=3, second=10 + i * i), billed="1234.56")
    assert detect_even_bills(last_days(30)) == []


# --- (d) night usage --------------------------------------------------------------


def test_night_charges_from_an_office_hours_enterprise_are_flagged() -> None:
    voucher, platform = setup()
    normal_month(voucher, platform)
    nights = [
        charge(voucher, platform, at(d, hour=3, minute=d), billed="2200.10") for d in (8, 6, 4)
    ]
    [flag] = detect_night_usage(last_days(30))
    assert flag.evidence["redemption_ids"] == [r.pk for r in nights]
    assert flag.evidence["night_hours"] == "01:00–05:00"
    assert flag.score == 3


def test_a_round_the_clock_user_is_not_flagged_for_nights() -> None:
    voucher, platform = setup()
    for d in range(20, 0, -1):
        charge(voucher, platform, at(d, hour=(d * 5) % 24, minute=d), billed=f"{800 + d}.13")
    assert detect_night_usage(last_days(30)) == []
