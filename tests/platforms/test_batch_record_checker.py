"""A usage batch's fast record check gives exactly what the serializer gives.

``platforms.usage._RecordChecker`` takes records in the usual form without
DRF's serializer machinery; for any record — usual or not — its answer must
be the serializer's: the same checked values, or the same refusal.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from platforms.serializers import RedemptionRequestSerializer
from platforms.usage import _RecordChecker

pytestmark = pytest.mark.django_db

texts = st.one_of(
    st.sampled_from(["ref-1", " ref-2", "ref-3 ", "", "a\x00b", "参考-4", "x" * 255, "y" * 256]),
    st.text(max_size=70),
    st.integers(),
    st.none(),
    st.booleans(),
)
codes = st.one_of(st.sampled_from(["K7Q2-M9XD-4HPA", "k7q2m9xd4hpa", " K7Q2 ", "z" * 65]), texts)
times = st.one_of(
    st.sampled_from(
        [
            "2026-05-01T10:00:00+08:00",
            "2026-05-01T10:00:00Z",
            "2026-05-01T10:00:00",
            "2026-05-01 10:00:00+08:00",
            "2026-05-01T10:00:00.123456789+08:00",
            "2026-13-01T10:00:00+08:00",
            "0001-01-01T00:00:00+14:00",
            "2026-05-01T10:00:00+15:00",
            "not a time",
        ]
    ),
    st.integers(),
    st.none(),
)
amounts = st.one_of(
    st.sampled_from(
        ["120.00", "120", "0.01", "0", "0.00", "-1.00", "1.234", " 5.00", "1e3", "NaN", "9" * 17]
    ),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.floats(allow_nan=False),
    st.integers(),
    st.none(),
)
tokens = st.one_of(
    st.integers(min_value=-2, max_value=10**12 + 2), st.sampled_from([True, 1.0, "5", None])
)
lines = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"model": st.one_of(st.sampled_from(["deepseek-v3", " qwen ", ""]), texts)},
            optional={"input_tokens": tokens, "output_tokens": tokens, "extra": st.integers()},
        ),
        st.none(),
        st.text(max_size=3),
    ),
    max_size=4,
)
records = st.one_of(
    st.fixed_dictionaries(
        {"reference": texts, "voucher": codes, "occurred_at": times},
        optional={
            "billed_amount": amounts,
            "currency": st.sampled_from(["CNY", "cny", "USD", None, 1]),
            "usage": st.one_of(lines, st.none(), st.text(max_size=3), st.just({})),
            "allow_partial": st.one_of(st.booleans(), st.sampled_from([None, 1, 0, "true"])),
            "unknown": st.integers(),
        },
    ),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=5),
)


def _answer(check: Any, record: Any) -> tuple[str, Any]:
    try:
        return "ok", dict(check(record))
    except ValidationError as refusal:
        return "refused", refusal.detail


@settings(max_examples=600, deadline=None)
@given(record=records)
def test_the_fast_check_answers_as_the_serializer(record: Any) -> None:
    serializer = RedemptionRequestSerializer()
    assert _answer(_RecordChecker().check, record) == _answer(serializer.run_validation, record)


def test_a_usual_record_does_not_go_through_the_serializer(monkeypatch) -> None:
    checker = _RecordChecker()

    def refuse(_record: Any) -> Any:
        raise AssertionError("the serializer was asked")

    monkeypatch.setattr(checker.serializer, "run_validation", refuse)
    checked = checker.check(
        {
            "reference": "job-1",
            "voucher": "K7Q2-M9XD-4HPA",
            "occurred_at": "2026-05-01T10:00:00+08:00",
            "billed_amount": "120.00",
            "currency": "CNY",
            "usage": [{"model": "deepseek-v3", "input_tokens": 1000}],
        }
    )
    assert checked["usage"] == [{"model": "deepseek-v3", "input_tokens": 1000, "output_tokens": 0}]
    assert checked["allow_partial"] is True
    assert str(checked["billed_amount"]) == "120.00"
