"""Idempotency-Key: replays are byte-identical, a different body is 409, and the
stored answer commits or rolls back with the write it describes."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from platforms.idempotency import idempotency_prune
from platforms.models import IdempotencyRecord
from tests.platforms.conftest import SigningKey, error_of, register_key, send, sign
from tests.platforms.urls import EVENT

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.platforms.urls")]

PATH = "/api/v1/test-writes"


def _post(client: Client, signing: SigningKey, body: dict[str, Any], key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return send(client, sign("POST", PATH, signing.auth(), json=body, headers=headers))


def _writes() -> int:
    return AuditEvent.objects.filter(event_type=EVENT).count()


def test_the_same_key_and_body_replays_the_first_answer_byte_for_byte(
    client: Client, signing_key: SigningKey
) -> None:
    body = {"reference": "inv-1", "amount": "120.00"}
    first = _post(client, signing_key, body, "key-1")
    assert first.status_code == 201, first.content
    second = _post(client, signing_key, body, "key-1")
    assert second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert _writes() == 1


def test_the_same_key_with_a_different_body_is_409(client: Client, signing_key: SigningKey) -> None:
    assert (
        _post(client, signing_key, {"reference": "inv-1", "amount": "120.00"}, "k").status_code
        == 201
    )
    response = _post(client, signing_key, {"reference": "inv-1", "amount": "121.00"}, "k")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "idempotency_key_reused"
    assert error["field"] == "Idempotency-Key"
    assert _writes() == 1


def test_keys_are_per_platform(client: Client, signing_key: SigningKey) -> None:
    other = register_key()
    body = {"reference": "inv-1", "amount": "1.00"}
    assert _post(client, signing_key, body, "shared").status_code == 201
    assert _post(client, other, body, "shared").status_code == 201
    assert _writes() == 2


def test_without_a_key_every_request_runs(client: Client, signing_key: SigningKey) -> None:
    body = {"reference": "inv-1", "amount": "1.00"}
    assert _post(client, signing_key, body, None).status_code == 201
    assert _post(client, signing_key, body, None).status_code == 201
    assert _writes() == 2
    assert IdempotencyRecord.objects.count() == 0


def test_a_refusal_rolls_back_the_write_and_stores_nothing(
    client: Client, signing_key: SigningKey
) -> None:
    body = {"reference": "inv-1", "amount": "1.00", "refuse": True}
    response = _post(client, signing_key, body, "refused")
    assert response.status_code == 409
    assert error_of(response)["code"] == "insufficient_balance"
    assert _writes() == 0
    assert not IdempotencyRecord.objects.exists()
    # Nothing was done, so the same key may be used again (and now succeeds).
    ok = _post(client, signing_key, {"reference": "inv-1", "amount": "1.00"}, "refused")
    assert ok.status_code == 201
    assert _writes() == 1


def test_a_record_older_than_24_hours_no_longer_replays(
    client: Client, signing_key: SigningKey
) -> None:
    body = {"reference": "inv-1", "amount": "1.00"}
    assert _post(client, signing_key, body, "old").status_code == 201
    IdempotencyRecord.objects.update(
        created_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=25)
    )
    assert _post(client, signing_key, body, "old").status_code == 201
    assert _writes() == 2
    assert IdempotencyRecord.objects.count() == 1
    IdempotencyRecord.objects.update(
        created_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=25)
    )
    assert idempotency_prune() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve"])
def test_a_malformed_key_is_a_validation_error(
    client: Client, signing_key: SigningKey, key: str
) -> None:
    prepared = sign("POST", PATH, signing_key.auth(), json={"reference": "r", "amount": "1.00"})
    response = send(client, prepared, headers={"Idempotency-Key": key.encode().decode("latin-1")})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["field"] == "Idempotency-Key"
    assert _writes() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_twins_with_one_key_write_once_and_answer_alike(signing_key: SigningKey) -> None:
    body = {"reference": "inv-race", "amount": "5.00"}
    prepared = [
        sign("POST", PATH, signing_key.auth(), json=body, headers={"Idempotency-Key": "race"})
        for _ in range(8)
    ]
    results: list[Any] = [None] * len(prepared)
    barrier = threading.Barrier(len(prepared))

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = send(Client(), prepared[index])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(prepared))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status_code for r in results} == {201}
    assert len({r.content for r in results}) == 1
    assert _writes() == 1


def test_a_key_past_its_24_hours_is_free_again(client: Client, signing_key: SigningKey) -> None:
    assert (
        _post(client, signing_key, {"reference": "inv-1", "amount": "1.00"}, "old").status_code
        == 201
    )
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=25)
    )
    again = _post(client, signing_key, {"reference": "inv-2", "amount": "2.00"}, "old")
    assert again.status_code == 201, again.content
    assert "Idempotent-Replayed" not in again
    assert IdempotencyRecord.objects.filter(key="old").count() == 1
    assert _writes() == 2
