"""The settlement endpoints with the stock ``requests-http-signature`` client,
unchanged, over real HTTP (``live_server``)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
import requests
from requests_http_signature import HTTPSignatureAuth, algorithms

from platforms.evidence import evidence_verify
from settlements.models import Settlement
from tests.platforms.conftest import register_key
from tests.settlements.factories import build, charge, last_month_instant

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_stock_client_lists_reads_and_submits_a_settlement(live_server: Any) -> None:
    world = build()
    at = last_month_instant()
    charge(world, billed="1000", reference="inv-1", at=at)
    charge(world, billed="500", reference="inv-2", at=at + datetime.timedelta(hours=1))
    signing = register_key(world.platform)
    auth = HTTPSignatureAuth(
        signature_algorithm=algorithms.ED25519,
        key=signing.private_pem,
        key_id=signing.key_id,
        use_nonce=True,
    )
    api = f"{live_server.url}/api/v1"
    with requests.Session() as session:
        listed = session.get(
            f"{api}/settlements", params={"status": "draft"}, auth=auth, timeout=10
        )
        assert listed.status_code == 200, listed.text
        [settlement] = listed.json()["results"]
        assert settlement["amount_due"] == "450.00"
        lines = session.get(f"{api}/settlements/{settlement['id']}/lines", auth=auth, timeout=10)
        assert lines.status_code == 200, lines.text
        assert [line["reference"] for line in lines.json()["results"]] == ["inv-1", "inv-2"]

        body = {"invoice_number": "INV-LIVE-1", "invoice_amount": "450.00", "note": ""}
        headers = {"Idempotency-Key": "live-settlement-1"}
        path = f"{api}/settlements/{settlement['id']}/submit"
        submitted = session.post(path, json=body, headers=headers, auth=auth, timeout=10)
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["status"] == "submitted"
        again = session.post(path, json=body, headers=headers, auth=auth, timeout=10)
        assert again.status_code == 200
        assert again.content == submitted.content
        assert again.headers["Idempotent-Replayed"] == "true"
        sent_body = submitted.request.body
        assert isinstance(sent_body, bytes)

    stored = Settlement.objects.get(pk=settlement["id"])
    assert stored.status == Settlement.Status.SUBMITTED
    assert stored.invoice_amount == Decimal("450.00")
    evidence = stored.submission_evidence
    names = [name for name, _value in evidence["covered_components"]]
    assert {'"@method"', '"@authority"', '"@target-uri"', '"content-digest"'} <= set(names)
    # What the platform signed, checkable with its public key and the bytes it sent.
    evidence_verify(evidence, public_key_pem=signing.key.public_key_pem, body=sent_body)
