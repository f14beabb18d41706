"""voucher_redeem_batch judges every item exactly as voucher_redeem would, in order.

Property-based: random batches (small balances, partial and not, repeated
and conflicting references, unknown and mistyped codes, a suspended voucher)
are charged once through the batch path on one platform and once item by
item through ``voucher_redeem`` on a twin platform with twin vouchers. Every
answer, every balance and the audit order must agree, and the ledger checks
clean.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Membership
from audit.commitments import commitments_verify, ids_of_runs
from audit.models import AuditEvent
from audit.services import Actor
from common.errors import BusinessError
from tests.accounts.factories import ComputePlatformFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue, official
from vouchers.codes import generate_code
from vouchers.ledger import ledger_differences
from vouchers.models import LedgerEntry, Redemption, Voucher
from vouchers.services import (
    RedeemInput,
    RedemptionResult,
    voucher_redeem,
    voucher_redeem_batch,
    voucher_suspend,
)

pytestmark = pytest.mark.django_db

VOUCHERS = 4
NOW = timezone.now()

item_strategy = st.fixed_dictionaries(
    {
        "voucher": st.integers(min_value=0, max_value=VOUCHERS + 1),  # +1: unknown, +2: bad code
        "reference": st.integers(min_value=0, max_value=12),
        "billed": st.sampled_from(["0.01", "10.00", "33.33", "120.00", "400.00", "-5", "1.234"]),
        "allow_partial": st.booleans(),
        "minutes_ago": st.sampled_from([0, 1, 60 * 24 * 400]),
    }
)


def _world() -> dict[str, Any]:
    batch_platform, single_platform = ComputePlatformFactory(), ComputePlatformFactory()
    program = ProgramFactory(base_rate=Decimal("0.5"), per_charge_cap=Decimal("150.00"))
    bind(program, batch_platform, single_platform)
    faces = ["100.00", "40.00", "500.00", "5.00"]
    valid_from = NOW - datetime.timedelta(days=30)
    twins = [
        (
            issue(program, amount=f, valid_from=valid_from),
            issue(program, amount=f, valid_from=valid_from),
        )
        for f in faces
    ]
    manager = official(program.district, Membership.Role.PROGRAM_MANAGER)
    for voucher in twins[3]:
        voucher_suspend(actor=Actor.for_user(manager), voucher=voucher, reason="checking")
    return {"batch": batch_platform, "single": single_platform, "twins": twins}


def _code(world: dict[str, Any], side: int, number: int) -> str:
    if number < VOUCHERS:
        return world["twins"][number][side].code
    if number == VOUCHERS:
        return generate_code()
    return "NOT-A-CODE"


def _input(world: dict[str, Any], side: int, raw: dict[str, Any]) -> RedeemInput:
    billed: Any = Decimal(raw["billed"])
    return RedeemInput(
        reference=f"ref-{raw['reference']}",
        occurred_at=NOW - datetime.timedelta(minutes=raw["minutes_ago"]),
        voucher_code=_code(world, side, raw["voucher"]),
        billed_amount=billed,
        allow_partial=raw["allow_partial"],
    )


def _shape(outcome: RedemptionResult | BusinessError) -> tuple[Any, ...]:
    if isinstance(outcome, BusinessError):
        return ("refused", outcome.code, outcome.field)
    body = outcome.as_dict()
    return (
        "charged",
        body["reference"],
        body["covered"],
        body["payable_by_enterprise"],
        body["balance_after"],
        body["rate_applied"],
        body["replayed"],
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw_items=st.lists(item_strategy, min_size=1, max_size=25))
def test_a_batch_answers_exactly_as_the_same_charges_sent_one_by_one(raw_items) -> None:
    world = _world()
    actor = Actor.platform_key("key-batch", evidence={"signature": "sig1=:AAAA:"})

    batch = voucher_redeem_batch(
        actor=actor,
        platform=world["batch"],
        items=[_input(world, 0, raw) for raw in raw_items],
        request_evidence={"signature": "sig1=:AAAA:"},
    )
    single: list[Any] = []
    for raw in raw_items:
        item = _input(world, 1, raw)
        try:
            single.append(
                voucher_redeem(
                    actor=actor,
                    platform=world["single"],
                    reference=item.reference,
                    occurred_at=item.occurred_at,
                    voucher_code=item.voucher_code,
                    billed_amount=item.billed_amount,
                    allow_partial=item.allow_partial,
                )
            )
        except BusinessError as refusal:
            single.append(refusal)

    assert [_shape(b) for b in batch] == [_shape(s) for s in single]
    for a, b in world["twins"]:
        a.refresh_from_db()
        b.refresh_from_db()
        assert (a.balance, a.held, a.status) == (b.balance, b.held, b.status)
    # Every new charge has its id and its one capture entry.
    for outcome in batch:
        if isinstance(outcome, RedemptionResult):
            assert outcome.id is not None
            assert LedgerEntry.objects.filter(redemption_id=outcome.id).count() == 1
    assert ledger_differences() == []
    # Every entry the batch wrote is committed to the audit log, and matches.
    check = commitments_verify()
    assert check.ok, check.problem


def test_the_exhaustion_event_follows_the_entries_that_exhausted_the_voucher() -> None:
    platform = ComputePlatformFactory()
    program = ProgramFactory(base_rate=Decimal("1"), per_charge_cap=None)
    bind(program, platform)
    voucher = issue(program, amount="30.00")
    items = [
        RedeemInput(
            reference=f"r{i}",
            occurred_at=timezone.now(),
            voucher_code=voucher.code,
            billed_amount=Decimal("10.00"),
        )
        for i in range(4)
    ]
    outcomes = voucher_redeem_batch(actor=Actor.system("test"), platform=platform, items=items)
    assert [o.code if isinstance(o, BusinessError) else o.covered for o in outcomes] == [
        Decimal("10.00"),
        Decimal("10.00"),
        Decimal("10.00"),
        "voucher_exhausted",
    ]
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.EXHAUSTED
    events = list(
        AuditEvent.objects.filter(enterprise_id=voucher.enterprise_id)
        .order_by("pk")
        .values_list("event_type", "after")
    )
    # The three entries are committed by one event, before the exhaustion.
    assert [kind for kind, _after in events[-2:]] == [
        "ledger.entries_committed",
        "voucher.exhausted",
    ]
    committed = events[-2][1]
    entries = list(LedgerEntry.objects.filter(voucher=voucher, kind="capture").order_by("pk"))
    assert committed["count"] == 3
    assert ids_of_runs(committed["ids"]) == [e.pk for e in entries]
    assert commitments_verify().ok
    assert Redemption.objects.filter(voucher=voucher).count() == 3


def test_references_stored_by_earlier_requests_are_replayed_or_conflict_in_a_batch() -> None:
    """The look-up of a batch's references already on record (one index probe
    each on PostgreSQL) finds those of earlier requests, of this platform only."""
    platform, other = ComputePlatformFactory(), ComputePlatformFactory()
    program = ProgramFactory(base_rate=Decimal("0.5"), per_charge_cap=None)
    bind(program, platform, other)
    voucher = issue(program, amount="100.00")
    actor = Actor.system("test")
    at = timezone.now()

    def item(reference: str, billed: str) -> RedeemInput:
        return RedeemInput(
            reference=reference,
            occurred_at=at,
            voucher_code=voucher.code,
            billed_amount=Decimal(billed),
        )

    def charge(on: Any, reference: str, billed: str) -> RedemptionResult:
        return voucher_redeem(
            actor=actor,
            platform=on,
            reference=reference,
            occurred_at=at,
            voucher_code=voucher.code,
            billed_amount=Decimal(billed),
        )

    earlier = charge(platform, "kept", "10.00")
    charge(platform, "clash", "10.00")
    # The same reference on another platform is that platform's own.
    charge(other, "new", "99.00")

    with CaptureQueriesContext(connection) as queries:
        kept, clash, new, never = voucher_redeem_batch(
            actor=actor,
            platform=platform,
            items=[
                item("kept", "10.00"),
                item("clash", "20.00"),
                item("new", "4.00"),
                item("never", "-5"),
            ],
        )

    # The look-up found "kept" and "clash" and nothing else before the bulk
    # write. A wrong one would be hidden by the answers alone, since the batch
    # falls back to charging item by item when a write meets a reference; but
    # then the batch's savepoint is rolled back and each item takes its own.
    statements = [q["sql"] for q in queries.captured_queries]
    assert len([sql for sql in statements if sql.startswith("SAVEPOINT")]) == 1
    assert not [sql for sql in statements if sql.startswith("ROLLBACK")]
    assert isinstance(never, BusinessError)
    assert isinstance(kept, RedemptionResult) and kept.replayed
    assert (kept.id, kept.covered) == (earlier.id, Decimal("5.00"))
    assert isinstance(clash, BusinessError) and clash.code == "reference_conflict"
    assert isinstance(new, RedemptionResult) and not new.replayed
    assert new.covered == Decimal("2.00")
    assert Redemption.objects.filter(platform=platform).count() == 3
    assert ledger_differences() == []

    # An empty batch looks nothing up.
    with CaptureQueriesContext(connection) as queries:
        assert voucher_redeem_batch(actor=actor, platform=platform, items=[]) == []
    assert not [q for q in queries.captured_queries if "vouchers_redemption" in q["sql"]]
