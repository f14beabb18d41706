"""64 signed clients on 5 vouchers over real HTTP: no overdraw, nothing twice.

Each client is the stock ``requests-http-signature`` signer against a live
server; every charge is sent twice under the same ``Idempotency-Key`` (a
client retrying after a lost answer). Afterwards the ledger checks clean,
every charge a client saw succeed is in the ledger exactly once, and the
vouchers' balances are their face values less what was covered.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.db.models import Sum
from django.utils import timezone

from tests.platforms.conftest import register_key
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue
from vouchers.ledger import ledger_differences
from vouchers.models import LedgerEntry, Redemption, Voucher

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 64
ROUNDS = 4
FACE = Decimal("300.00")


def send(
    session: requests.Session, auth: Any, url: str, body: dict[str, Any], reference: str
) -> Any:
    """POST a charge as a careful platform does: on a connection failure (the
    test server's accept queue is short), retry with the same Idempotency-Key."""
    for _attempt in range(20):
        try:
            return session.post(
                f"{url}/api/v1/redemptions",
                json=body,
                headers={"Idempotency-Key": f"key-{reference}"},
                auth=auth,
                timeout=60,
            )
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError(f"{reference}: no connection after 20 attempts")


def test_64_signed_clients_on_5_vouchers_never_overdraw_nor_charge_twice(
    live_server: Any,
) -> None:
    signing = register_key()
    program = ProgramFactory(base_rate=Decimal("1"), per_charge_cap=None)
    bind(program, signing.platform)
    codes = [issue(program, amount=FACE).code for _ in range(5)]
    accepted: dict[str, str] = {}
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        rng = random.Random(n)
        auth = signing.auth()
        with requests.Session() as session:
            barrier.wait()
            for i in range(ROUNDS):
                reference = f"c-{n}-{i}"
                body = {
                    "voucher": rng.choice(codes),
                    "reference": reference,
                    "occurred_at": timezone.now().isoformat(),
                    "billed_amount": f"{rng.randint(100, 4000) / 100:.2f}",
                    "currency": "CNY",
                }
                first, again = (
                    send(session, auth, live_server.url, body, reference) for _twice in range(2)
                )
                with lock:
                    if first.status_code == 201:
                        outcomes["captured"] += 1
                        accepted[reference] = first.json()["covered"]
                        if again.content != first.content:
                            failures.append(f"{reference}: replay differs")
                    elif first.status_code == 409:
                        outcomes[first.json()["error"]["code"]] += 1
                        if again.status_code != 409:
                            failures.append(f"{reference}: refusal then {again.status_code}")
                    else:
                        failures.append(f"{reference}: {first.status_code} {first.text[:200]}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    # The vouchers ran out: some charges were covered in part or refused.
    assert outcomes["captured"] > 0
    assert outcomes["voucher_exhausted"] + outcomes["insufficient_balance"] > 0, outcomes

    assert ledger_differences() == []
    redemptions = {r.reference: r for r in Redemption.objects.all()}
    assert set(redemptions) == set(accepted)
    for reference, covered in accepted.items():
        assert redemptions[reference].covered == Decimal(covered)
        assert LedgerEntry.objects.filter(redemption=redemptions[reference]).count() == 1
    for voucher in Voucher.objects.filter(code__in=codes):
        assert voucher.balance >= 0
        spent = Redemption.objects.filter(voucher=voucher).aggregate(s=Sum("covered"))["s"]
        assert voucher.balance == FACE - (spent or Decimal("0"))
