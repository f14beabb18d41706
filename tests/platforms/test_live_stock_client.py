"""The stock requests-http-signature client, unchanged, against a live server."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from requests_http_signature import HTTPSignatureAuth, algorithms

from audit.models import AuditEvent
from tests.platforms.conftest import register_key
from tests.platforms.urls import EVENT

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.platforms.urls"),
]


def test_the_stock_client_with_nonces_is_accepted_over_real_http(live_server: Any) -> None:
    signing = register_key()
    auth = HTTPSignatureAuth(
        signature_algorithm=algorithms.ED25519,
        key=signing.private_pem,
        key_id=signing.key_id,
        use_nonce=True,
    )
    with requests.Session() as session:
        ping = session.get(f"{live_server.url}/api/v1/ping", auth=auth, timeout=10)
        assert ping.status_code == 200, ping.text
        assert ping.json()["platform"] == signing.platform.slug
        assert ping.json()["key_id"] == signing.key_id

        body = {"reference": "inv-live-1", "amount": "88.00"}
        headers = {"Idempotency-Key": "live-1"}
        first = session.post(
            f"{live_server.url}/api/v1/test-writes",
            json=body,
            headers=headers,
            auth=auth,
            timeout=10,
        )
        assert first.status_code == 201, first.text
        again = session.post(
            f"{live_server.url}/api/v1/test-writes",
            json=body,
            headers=headers,
            auth=auth,
            timeout=10,
        )
        assert again.status_code == 201
        assert again.content == first.content
        query = session.get(
            f"{live_server.url}/api/v1/ping?since=2026-01-01T00:00:00%2B08:00",
            auth=auth,
            timeout=10,
        )
        assert query.status_code == 200, query.text
    assert AuditEvent.objects.filter(event_type=EVENT).count() == 1
    event = AuditEvent.objects.get(event_type=EVENT)
    assert event.evidence is not None
    assert event.evidence["key_id"] == signing.key_id
    assert event.evidence["content_digest"].startswith("sha-256=:")


def test_a_replayed_request_over_real_http_is_refused(live_server: Any) -> None:
    signing = register_key()
    auth = HTTPSignatureAuth(
        signature_algorithm=algorithms.ED25519,
        key=signing.private_pem,
        key_id=signing.key_id,
        use_nonce=True,
    )
    prepared = requests.Request("GET", f"{live_server.url}/api/v1/ping", auth=auth).prepare()
    with requests.Session() as session:
        assert session.send(prepared, timeout=10).status_code == 200
        replay = session.send(prepared, timeout=10)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "nonce_replayed"


def test_stored_evidence_re_verifies_with_the_public_key_and_body(live_server: Any) -> None:
    from platforms.evidence import EvidenceInvalid, evidence_verify
    from tests.platforms.factories import new_key_pair

    signing = register_key()
    auth = HTTPSignatureAuth(
        signature_algorithm=algorithms.ED25519,
        key=signing.private_pem,
        key_id=signing.key_id,
        use_nonce=True,
    )
    body = {"reference": "inv-evidence", "amount": "12.34"}
    response = requests.post(
        f"{live_server.url}/api/v1/test-writes", json=body, auth=auth, timeout=10
    )
    assert response.status_code == 201, response.text
    sent_body = response.request.body
    assert isinstance(sent_body, bytes)
    evidence = AuditEvent.objects.get(event_type=EVENT).evidence
    assert evidence is not None
    names = [name for name, _value in evidence["covered_components"]]
    assert {'"@method"', '"@authority"', '"@target-uri"', '"content-digest"'} <= set(names)

    evidence_verify(evidence, public_key_pem=signing.key.public_key_pem, body=sent_body)
    with pytest.raises(EvidenceInvalid, match="Content-Digest"):
        evidence_verify(evidence, public_key_pem=signing.key.public_key_pem, body=sent_body + b" ")
    _other_private, other_public = new_key_pair()
    with pytest.raises(EvidenceInvalid, match="public key"):
        evidence_verify(evidence, public_key_pem=other_public, body=sent_body)
    forged = dict(evidence)
    forged["covered_components"] = [
        [name, value.replace("test-writes", "other") if name == '"@target-uri"' else value]
        for name, value in evidence["covered_components"]
    ]
    with pytest.raises(EvidenceInvalid):
        evidence_verify(forged, public_key_pem=signing.key.public_key_pem)
