"""The canonical serialisation covers every column and has one text form."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from audit import canonical
from audit.models import AuditEvent


def _row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {name: None for name in canonical.EVENT_FIELDS_V1}
    row.update(
        id=7,
        occurred_at=datetime.datetime(2026, 3, 1, 8, 0, tzinfo=datetime.UTC),
        event_type="voucher.redeemed",
        actor_kind="user",
        actor_label="a@example.test",
        object_type="vouchers.voucher",
        object_id="3",
        object_repr="V-3",
        note="",
    )
    row.update(overrides)
    return row


def test_the_serialisation_names_every_column_of_the_event_table() -> None:
    columns = {f.attname for f in AuditEvent._meta.concrete_fields}
    assert columns == set(canonical.EVENT_FIELDS_V1)


def test_the_same_instant_in_another_time_zone_serialises_identically() -> None:
    utc = _row()
    shanghai = _row(
        occurred_at=datetime.datetime(2026, 3, 1, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    )
    assert canonical.canonical_bytes(utc) == canonical.canonical_bytes(shanghai)
    assert b'"occurred_at":"2026-03-01T08:00:00.000000Z"' in canonical.canonical_bytes(utc)


def test_key_order_inside_json_columns_does_not_change_the_hash() -> None:
    a = _row(after={"b": 1, "a": {"y": 2, "x": 1}})
    b = _row(after={"a": {"x": 1, "y": 2}, "b": 1})
    assert canonical.entry_hash("sha256", a) == canonical.entry_hash("sha256", b)


def test_decimals_are_written_as_text_and_chinese_as_utf8() -> None:
    data = canonical.canonical_bytes(_row(after={"amount": Decimal("10.50")}, note="江汉区"))
    assert b'"amount":"10.50"' in data
    assert "江汉区".encode() in data


def test_any_changed_column_changes_the_entry_hash() -> None:
    base = canonical.entry_hash("sha256", _row())
    for name, value in [
        ("id", 8),
        ("event_type", "voucher.revoked"),
        ("actor_label", "b@example.test"),
        ("source_ip", "10.0.0.1"),
        ("district_id", 2),
        ("before", {"x": 1}),
        ("note", "x"),
    ]:
        assert canonical.entry_hash("sha256", _row(**{name: value})) != base, name


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        canonical.canonical_bytes(_row(occurred_at=datetime.datetime(2026, 1, 1)))


def test_sm3_gives_the_standard_test_vector() -> None:
    # GB/T 32905-2016, example 1: SM3("abc").
    assert (
        canonical.digest("sm3", b"abc").hex()
        == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_an_unknown_algorithm_setting_is_refused(settings: object) -> None:
    settings.AUDIT_HASH_ALGORITHM = "md5"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="AUDIT_HASH_ALGORITHM"):
        canonical.hash_algorithm()
