"""The issue's bad inputs over real HTTP, signed by the stock client: 400s in
the contract's shape, and nothing committed by a request that is not 2xx."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests
from django.utils import timezone

from tests.platforms.conftest import register_key
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue
from vouchers.models import Redemption

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_issues_bad_inputs_are_400s_over_real_http(live_server: Any) -> None:
    signing = register_key()
    program = ProgramFactory(per_charge_cap=Decimal("500.00"))
    bind(program, signing.platform)
    voucher = issue(program, amount="1000.00")
    now = timezone.localtime().isoformat()

    def charge(reference: str, **fields: Any) -> dict[str, Any]:
        return {
            "voucher": voucher.code,
            "reference": reference,
            "occurred_at": now,
            "billed_amount": "120.00",
            "currency": "CNY",
            **fields,
        }

    def post(path: str, **kwargs: Any) -> requests.Response:
        return session.post(
            f"{live_server.url}/api/v1/{path}", auth=signing.auth(), timeout=30, **kwargs
        )

    def is_validation_error(response: requests.Response, field: str | None) -> None:
        assert response.status_code == 400, response.text
        assert response.json() == {
            "error": {
                "code": "validation_error",
                "message": response.json()["error"]["message"],
                "field": field,
            }
        }

    with requests.Session() as session:
        deep = post(
            "redemptions", data=b"[" * 100_000, headers={"Content-Type": "application/json"}
        )
        is_validation_error(deep, None)
        extreme = post("redemptions", json=charge("r-1", occurred_at="0001-01-01T00:00:00+14:00"))
        is_validation_error(extreme, "occurred_at")
        since = session.get(
            f"{live_server.url}/api/v1/redemptions?since=0001-01-01T00:00:00%2B14:00",
            auth=signing.auth(),
            timeout=30,
        )
        is_validation_error(since, "since")
        # No Idempotency-Key: the batch answers per record and keeps its good ones.
        batch = post(
            "usage-batches",
            json={"records": [charge("good-1"), charge("x\udc00"), None]},
        )
        assert batch.status_code == 200, batch.text
        results = batch.json()["results"]
        assert [r["status"] for r in results] == ["captured", "rejected", "rejected"]
        assert [r["error"]["code"] for r in results[1:]] == ["validation_error"] * 2
    assert list(Redemption.objects.values_list("reference", flat=True)) == ["good-1"]
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("964.00")
