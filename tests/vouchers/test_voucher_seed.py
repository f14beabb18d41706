"""seed_demo issues vouchers in every state, with usage, idempotently."""

from __future__ import annotations

import pytest

from demo.seed import seed
from vouchers.ledger import ledger_differences
from vouchers.models import LedgerEntry, Voucher

pytestmark = pytest.mark.django_db


def test_the_demo_has_vouchers_in_every_state_with_usage_and_a_clean_ledger() -> None:
    first = seed()["vouchers"]
    entries = LedgerEntry.objects.count()
    second = seed()["vouchers"]
    assert first == second
    assert LedgerEntry.objects.count() == entries
    assert {v["status"] for v in first} == set(Voucher.Status.values)
    assert LedgerEntry.objects.filter(kind="capture").count() >= 10
    assert {"hold", "reversal", "expiry", "revocation", "clawback"} <= set(
        LedgerEntry.objects.values_list("kind", flat=True)
    )
    assert all(v["platforms"] for v in first)
    assert ledger_differences() == []
