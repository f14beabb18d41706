"""64 threads redeeming concurrently from 5 vouchers never overdraw, and the
ledger checks clean afterwards (real row locks on PostgreSQL)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.db.models import Sum
from django.utils import timezone

from audit.services import Actor
from common.errors import BusinessError, Code
from tests.accounts.factories import ComputePlatformFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue, platform_actor
from vouchers.ledger import ledger_differences
from vouchers.models import Redemption, Voucher
from vouchers.services import (
    RedeemInput,
    hold_capture,
    hold_create,
    voucher_redeem,
    voucher_redeem_batch,
)

AUDIT_TABLE = "audit_auditevent"


THREADS = 64
ROUNDS = 12
FACE = Decimal("500.00")


def _vouchers_of_one_platform(count: int, face: Decimal) -> tuple[Any, list[str], Actor]:
    """A platform bound to a program at rate 1, and ``count`` vouchers of ``face``."""
    platform = ComputePlatformFactory()
    program = ProgramFactory(base_rate=Decimal("1"), per_charge_cap=None)
    bind(program, platform)
    codes = [issue(program, amount=face).code for _ in range(count)]
    return platform, codes, platform_actor(platform)


def _on_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(n)`` on ``count`` threads released together (each with its own
    connection); what they raised."""
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except BaseException as exc:  # surfaced by the caller, with the thread's failure
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.postgres
def test_64_threads_on_5_vouchers_never_overdraw_and_the_ledger_checks_clean(
    transactional_db: None,
) -> None:
    platform, codes, actor = _vouchers_of_one_platform(5, FACE)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(n: int) -> None:
        rng = random.Random(n)
        for i in range(ROUNDS):
            code = rng.choice(codes)
            billed = Decimal(rng.randint(100, 2500)) / 100
            try:
                if i % 4 == 3:
                    hold = hold_create(
                        actor=actor,
                        platform=platform,
                        voucher_code=code,
                        reference=f"h-{n}-{i}",
                        amount=Decimal("5"),
                    )
                    hold_capture(
                        actor=actor,
                        platform=platform,
                        hold_id=hold.id,
                        reference=f"c-{n}-{i}",
                        occurred_at=timezone.now(),
                        billed_amount=billed,
                    )
                    outcome = "captured"
                else:
                    voucher_redeem(
                        actor=actor,
                        platform=platform,
                        voucher_code=code,
                        reference=f"r-{n}-{i}",
                        occurred_at=timezone.now(),
                        billed_amount=billed,
                        allow_partial=rng.random() < 0.7,
                    )
                    outcome = "redeemed"
            except BusinessError as exc:
                assert exc.code in {
                    Code.VOUCHER_EXHAUSTED,
                    Code.INSUFFICIENT_BALANCE,
                }, exc.code
                outcome = exc.code
            with lock:
                outcomes[outcome] += 1

    started = time.perf_counter()
    errors = _on_threads(THREADS, worker)
    elapsed = time.perf_counter() - started

    assert not errors, errors[:3]
    assert sum(outcomes.values()) == THREADS * ROUNDS
    # The load is well above the vouchers' value: they must run dry, and
    # refusals must have happened rather than overdrafts.
    assert outcomes[Code.VOUCHER_EXHAUSTED] + outcomes[Code.INSUFFICIENT_BALANCE] > 0
    for voucher in Voucher.objects.filter(code__in=codes):
        covered = Redemption.objects.filter(voucher=voucher).aggregate(s=Sum("covered"))["s"] or 0
        assert voucher.balance >= 0 and voucher.held == 0
        assert voucher.balance + covered == FACE
    assert ledger_differences() == []
    print(f"{dict(outcomes)} in {elapsed:.2f}s ({THREADS * ROUNDS / elapsed:.0f} calls/s)")


BATCH_THREADS = 6
BATCHES = 4
BATCH_RECORDS = 40


@pytest.mark.postgres
def test_concurrent_batches_on_shared_vouchers_keep_each_voucher_s_entries_in_order(
    transactional_db: None,
) -> None:
    """Usage batches that share vouchers, with single charges among them: every
    voucher's entries take their ids in the order they were applied, so the
    running sums of ``check_ledger`` (each voucher's entries in id order)
    agree with every entry's balance after it, and nothing is overdrawn."""
    platform, codes, actor = _vouchers_of_one_platform(8, FACE * 4)
    captured: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(n: int) -> None:
        rng = random.Random(1000 + n)
        for b in range(BATCHES):
            items = [
                RedeemInput(
                    reference=f"b-{n}-{b}-{i}",
                    occurred_at=timezone.now(),
                    voucher_code=rng.choice(codes),
                    billed_amount=Decimal(rng.randint(100, 2500)) / 100,
                )
                for i in range(BATCH_RECORDS)
            ]
            outcomes = voucher_redeem_batch(actor=actor, platform=platform, items=items)
            if n % 2:  # a single charge between two batches
                try:
                    voucher_redeem(
                        actor=actor,
                        platform=platform,
                        voucher_code=rng.choice(codes),
                        reference=f"s-{n}-{b}",
                        occurred_at=timezone.now(),
                        billed_amount=Decimal("7.00"),
                    )
                except BusinessError as exc:
                    assert exc.code in {Code.VOUCHER_EXHAUSTED, Code.INSUFFICIENT_BALANCE}
            with lock:
                for outcome in outcomes:
                    captured[type(outcome).__name__] += 1

    errors = _on_threads(BATCH_THREADS, worker)

    assert not errors, errors[:3]
    assert sum(captured.values()) == BATCH_THREADS * BATCHES * BATCH_RECORDS
    assert captured["RedemptionResult"] > BATCH_THREADS * BATCHES  # most were charged
    for voucher in Voucher.objects.filter(code__in=codes):
        covered = Redemption.objects.filter(voucher=voucher).aggregate(s=Sum("covered"))["s"] or 0
        assert voucher.balance >= 0 and voucher.held == 0
        assert voucher.balance + covered == FACE * 4
    assert ledger_differences() == []
