"""A ledger entry's leaf content (``vouchers.commitments.entry_content``) is
put together value by value for speed; its text must stay exactly what
``json.dumps`` wrote, or every commitment stored before would stop verifying."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from vouchers.commitments import ENTRY_COLUMNS, REDEMPTION_COLUMNS, entry_content

_CENT = Decimal("0.01")
_RATE = Decimal("0.0001")
_RATE_AT = REDEMPTION_COLUMNS.index("rate_applied")


def _as_json_dumps_wrote_it(entry: list[Any], redemption: list[Any] | None) -> bytes:
    """The content as the first version of ``entry_content`` wrote it."""

    def form(value: Any, places: Decimal) -> Any:
        if type(value) is Decimal:
            return str(value.quantize(places))
        if isinstance(value, datetime.datetime):
            return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return value

    values = [form(v, _CENT) for v in entry]
    if redemption is not None:
        values.append(
            [form(v, _RATE if i == _RATE_AT else _CENT) for i, v in enumerate(redemption)]
        )
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()


_decimals = st.decimals(
    min_value=Decimal("-99999999999999.99"),
    max_value=Decimal("99999999999999.99"),
    allow_nan=False,
    allow_infinity=False,
    places=4,
)
_times = st.datetimes(
    min_value=datetime.datetime(2000, 1, 1),
    max_value=datetime.datetime(2100, 1, 1),
    timezones=st.sampled_from([datetime.UTC, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/Lima")]),
)
_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(),  # quotes, backslashes, control characters, CJK, astral planes
    _decimals,
    _times,
)


@settings(max_examples=500, deadline=None)
@given(
    entry=st.lists(_values, min_size=len(ENTRY_COLUMNS), max_size=len(ENTRY_COLUMNS)),
    redemption=st.one_of(
        st.none(),
        st.lists(_values, min_size=len(REDEMPTION_COLUMNS), max_size=len(REDEMPTION_COLUMNS)),
    ),
)
def test_the_content_is_the_text_json_dumps_wrote(entry: list[Any], redemption: Any) -> None:
    assert entry_content(entry, redemption) == _as_json_dumps_wrote_it(entry, redemption)


def test_a_typical_charge_reads_as_before() -> None:
    at = datetime.datetime(2026, 12, 5, 0, 30, 1, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    entry = [7, "capture", Decimal("3"), Decimal("-3.00"), Decimal("0"), Decimal("997.00")]
    entry += [Decimal("0.00"), Decimal("0.00"), 11, None, None, 2, "platform_key"]
    entry += ['密钥 "k1"\\n', None, "", at]
    redemption = ["ref-1", at, Decimal("10.00"), Decimal("0.3"), None, Decimal("3.00")]
    redemption += [Decimal("7.00"), Decimal("997.00"), "ab" * 32]
    content = entry_content(entry, redemption)
    assert content == _as_json_dumps_wrote_it(entry, redemption)
    assert b'"2026-12-04T16:30:01.000005Z"' in content
    assert b'"0.3000"' in content
