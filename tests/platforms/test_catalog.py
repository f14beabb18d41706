"""The versioned model catalog and usage → points."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from common.errors import BusinessError
from platforms.catalog import usage_to_points
from platforms.selectors import catalog_entry_in_force, catalog_in_force
from tests.accounts.factories import ComputePlatformFactory
from tests.platforms.factories import ModelCatalogEntryFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
JAN = datetime.datetime(2026, 1, 1, tzinfo=UTC)
JUL = datetime.datetime(2026, 7, 1, tzinfo=UTC)


def test_the_row_in_force_is_the_latest_that_started() -> None:
    platform = ComputePlatformFactory()
    old = ModelCatalogEntryFactory(platform=platform, valid_from=JAN, points_output_per_1k=5250)
    new = ModelCatalogEntryFactory(platform=platform, valid_from=JUL, points_output_per_1k=4000)
    assert (
        catalog_entry_in_force(platform, "kimi-k2.5", on=JAN - datetime.timedelta(seconds=1))
        is None
    )
    assert catalog_entry_in_force(platform, "kimi-k2.5", on=JAN) == old
    assert (
        catalog_entry_in_force(platform, "kimi-k2.5", on=JUL - datetime.timedelta(seconds=1)) == old
    )
    assert catalog_entry_in_force(platform, "kimi-k2.5", on=JUL) == new
    assert catalog_in_force(platform, on=JUL) == [new]


def test_catalogs_are_per_platform() -> None:
    entry = ModelCatalogEntryFactory(valid_from=JAN)
    assert catalog_entry_in_force(ComputePlatformFactory(), "kimi-k2.5", on=JUL) is None
    assert catalog_entry_in_force(entry.platform, "kimi-k2.5", on=JUL) == entry


def test_usage_lines_convert_to_points_with_the_rows_used() -> None:
    platform = ComputePlatformFactory()
    kimi = ModelCatalogEntryFactory(platform=platform, valid_from=JAN)
    deepseek = ModelCatalogEntryFactory(
        platform=platform,
        model_id="deepseek-v3.2",
        display_name="DeepSeek-V3.2",
        price_input_per_1k=Decimal("0.002"),
        price_output_per_1k=Decimal("0.003"),
        points_input_per_1k=500,
        points_output_per_1k=750,
        valid_from=JAN,
    )
    points, lines = usage_to_points(
        platform,
        [
            {"model": "kimi-k2.5", "input_tokens": 120_000, "output_tokens": 8_000},
            {"model": "deepseek-v3.2", "input_tokens": 1_001, "output_tokens": 0},
        ],
        JUL,
    )
    # Kimi: 120,000 × 1 + 8,000 × 5.25 = 162,000; DeepSeek: 1,001 × 0.5 = 500.5 → 501.
    assert [line.points for line in lines] == [162_000, 501]
    assert points == 162_501
    assert [line.catalog_entry_id for line in lines] == [kimi.pk, deepseek.pk]
    assert lines[0].as_dict()["catalog_entry_id"] == kimi.pk


def test_one_yuan_of_kimi_input_is_250000_points() -> None:
    platform = ComputePlatformFactory()
    ModelCatalogEntryFactory(platform=platform, valid_from=JAN)
    points, _lines = usage_to_points(
        platform, [{"model": "kimi-k2.5", "input_tokens": 250_000, "output_tokens": 0}], JUL
    )
    assert points == 250_000


def test_an_unknown_model_is_refused_on_its_line() -> None:
    platform = ComputePlatformFactory()
    ModelCatalogEntryFactory(platform=platform, valid_from=JAN)
    with pytest.raises(BusinessError) as refused:
        usage_to_points(
            platform,
            [
                {"model": "kimi-k2.5", "input_tokens": 1, "output_tokens": 1},
                {"model": "gpt-9", "input_tokens": 1, "output_tokens": 1},
            ],
            JUL,
        )
    assert refused.value.code == "validation_error"
    assert refused.value.field == "usage[1].model"


def test_a_model_used_before_its_row_started_is_refused() -> None:
    platform = ComputePlatformFactory()
    ModelCatalogEntryFactory(platform=platform, valid_from=JUL)
    with pytest.raises(BusinessError) as refused:
        usage_to_points(platform, [{"model": "kimi-k2.5", "input_tokens": 1}], JAN)
    assert refused.value.field == "usage[0].model"


@pytest.mark.parametrize("tokens", [-1, 1.5, "10", True, 10**13])
def test_token_counts_must_be_whole_and_sane(tokens: object) -> None:
    platform = ComputePlatformFactory()
    ModelCatalogEntryFactory(platform=platform, valid_from=JAN)
    with pytest.raises(BusinessError) as refused:
        usage_to_points(platform, [{"model": "kimi-k2.5", "output_tokens": tokens}], JUL)
    assert refused.value.field == "usage[0].output_tokens"


def test_no_usage_lines_is_refused() -> None:
    with pytest.raises(BusinessError) as refused:
        usage_to_points(ComputePlatformFactory(), [], JUL)
    assert refused.value.field == "usage"
