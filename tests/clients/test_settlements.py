"""The reference client's settlement calls (``list_settlements``,
``settlement_lines``, ``submit_settlement``) against a live server."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from cv_client import APIError, PlatformClient

from settlements.models import Settlement
from tests.platforms.conftest import register_key
from tests.settlements.factories import build, charge, last_month_instant

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_client_lists_pages_of_settlements_and_lines_and_submits(live_server: Any) -> None:
    world = build()
    at = last_month_instant()
    for n in range(3):
        charge(world, billed="100", reference=f"inv-{n}", at=at + datetime.timedelta(minutes=n))
    signing = register_key(world.platform)
    api = PlatformClient(
        live_server.url, key_id=signing.key_id, private_key_pem=signing.private_pem
    )

    [settlement] = list(api.list_settlements(status="draft", page_size=1))
    assert settlement["amount_due"] == "90.00"
    assert list(api.list_settlements(period=settlement["period"], status="paid")) == []
    # Two pages: the client follows the cursor.
    lines = list(api.settlement_lines(settlement["id"], page_size=2))
    assert [line["reference"] for line in lines] == ["inv-0", "inv-1", "inv-2"]

    with pytest.raises(APIError) as mismatch:
        api.submit_settlement(settlement["id"], invoice_number="INV-1", invoice_amount="91.00")
    assert (mismatch.value.status, mismatch.value.code) == (409, "settlement_amount_mismatch")
    with pytest.raises(TypeError):
        api.submit_settlement(settlement["id"], invoice_number="INV-1", invoice_amount=90.0)

    answer = api.submit_settlement(
        settlement["id"], invoice_number="INV-1", invoice_amount=Decimal("90.00"), note="ok"
    )
    assert answer["status"] == "submitted"
    assert Settlement.objects.get(pk=settlement["id"]).invoice_number == "INV-1"
    with pytest.raises(APIError) as closed:
        api.submit_settlement(settlement["id"], invoice_number="INV-2", invoice_amount="90.00")
    assert closed.value.code == "settlement_not_open"
    with pytest.raises(APIError) as unknown:
        list(api.settlement_lines("no-such-id"))
    assert (unknown.value.status, unknown.value.code) == (404, "settlement_not_found")
