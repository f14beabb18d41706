"""The reference client (``cv_client.PlatformClient``) against a live server:
signing, safe retries, usage batches."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from cv_client import APIError, PlatformClient, redemption_body
from requests.adapters import HTTPAdapter

from audit.models import AuditEvent
from tests.platforms.conftest import SigningKey, register_key
from tests.platforms.urls import EVENT

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.platforms.urls"),
]


def _client(live_server: Any, signing: SigningKey, **kwargs: Any) -> PlatformClient:
    return PlatformClient(
        live_server.url, key_id=signing.key_id, private_key_pem=signing.private_pem, **kwargs
    )


class LoseFirstResponse(HTTPAdapter):
    """Delivers the request, then drops the server's answer once: the case
    an Idempotency-Key exists for."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().send(request, *args, **kwargs)
        self.sent.append(request)
        if len(self.sent) == 1:
            raise requests.ConnectionError("connection reset before the answer arrived")
        return response


def test_ping_and_refusals_come_back_as_values_and_api_errors(live_server: Any) -> None:
    signing = register_key()
    api = _client(live_server, signing)
    assert api.ping()["key_id"] == signing.key_id
    with pytest.raises(APIError) as refused:
        api.request("POST", "test-writes", body={"reference": "r", "amount": "x"})
    assert refused.value.status == 400
    assert refused.value.code == "validation_error"
    assert refused.value.field == "amount"


def test_a_retry_after_a_lost_answer_reuses_the_key_and_charges_once(live_server: Any) -> None:
    signing = register_key()
    adapter = LoseFirstResponse()
    session = requests.Session()
    session.mount("http://", adapter)
    sleeps: list[float] = []
    api = _client(live_server, signing, session=session, sleep=sleeps.append)
    answer = api.request("POST", "test-writes", body={"reference": "inv-9", "amount": "9.00"})
    assert answer["reference"] == "inv-9"
    assert len(adapter.sent) == 2
    first, second = adapter.sent
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body
    # Signed afresh: a new nonce, so the retry is not refused as a replay.
    assert first.headers["Signature-Input"] != second.headers["Signature-Input"]
    assert len(sleeps) == 1
    assert AuditEvent.objects.filter(event_type=EVENT).count() == 1


def test_429_is_retried_after_retry_after(
    live_server: Any, settings: Any, fresh_rate_window: Any
) -> None:
    from django.core.cache import cache

    cache.clear()
    settings.PLATFORM_API_RATE_LIMIT = "2/minute"
    signing = register_key()
    sleeps: list[float] = []
    api = _client(live_server, signing, sleep=sleeps.append, max_retries=2)
    api.ping()
    api.ping()
    with pytest.raises(APIError) as refused:
        api.ping()
    assert refused.value.code == "rate_limited"
    assert len(sleeps) == 2
    assert all(1 <= s <= 30 for s in sleeps)


def test_amounts_must_not_be_floats() -> None:
    with pytest.raises(TypeError):
        redemption_body(reference="r", occurred_at="2026-05-01T10:00:00+08:00", billed_amount=1.1)
    body = redemption_body(
        voucher="V",
        reference="r",
        occurred_at="2026-05-01T10:00:00+08:00",
        usage=[{"model": "kimi-k2.5", "input_tokens": 5}],
    )
    assert body["usage"] == [{"model": "kimi-k2.5", "input_tokens": 5, "output_tokens": 0}]
    assert "billed_amount" not in body


class CannedBatches(HTTPAdapter):
    """Answers usage batches without a server (the endpoint lands with issue 4's
    services): one result per record, so batching and order can be checked."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.requests.append(request)
        records = json.loads(request.body or b"{}")["records"]
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(
            {"results": [{"reference": r["reference"], "status": "captured"} for r in records]}
        ).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        return response


@pytest.mark.django_db(transaction=False)
def test_usage_is_reported_in_batches_of_1000_in_order_with_content_keys() -> None:
    signing_private = register_key().private_pem
    adapter = CannedBatches()
    session = requests.Session()
    session.mount("http://", adapter)
    api = PlatformClient(
        "http://api.test", key_id="pk_x", private_key_pem=signing_private, session=session
    )
    records = [{"reference": f"job-{i}"} for i in range(2500)]
    results = api.report_usage(records)
    assert [r["reference"] for r in results] == [f"job-{i}" for i in range(2500)]
    assert [len(json.loads(r.body)["records"]) for r in adapter.requests] == [1000, 1000, 500]
    keys = [r.headers["Idempotency-Key"] for r in adapter.requests]
    assert len(set(keys)) == 3
    api.report_usage(records[:1000])
    assert adapter.requests[-1].headers["Idempotency-Key"] == keys[0]
    assert all("Signature-Input" in r.headers for r in adapter.requests)
