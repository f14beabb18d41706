"""Every failure of the API in the contract's error shape, in the client's language."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from common.errors import BusinessError, Code
from platforms.api_errors import ALL_CODES, STATUS, ApiCode, first_validation_error
from tests.platforms.conftest import SigningKey, error_of, send, sign

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.platforms.urls")]

PATH = "/api/v1/test-writes"


def test_a_json_number_as_an_amount_is_a_validation_error_on_that_field(
    client: Client, signing_key: SigningKey
) -> None:
    response = send(
        client, sign("POST", PATH, signing_key.auth(), json={"reference": "r", "amount": 120.0})
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error == {
        "code": "validation_error",
        "message": 'Amounts are decimal strings such as "120.00", not JSON numbers.',
        "field": "amount",
    }


@pytest.mark.parametrize("amount", ["1e3", "NaN", " 12.00", "12.001", "abc"])
def test_amounts_that_are_not_plain_decimals_are_refused(
    client: Client, signing_key: SigningKey, amount: str
) -> None:
    response = send(
        client, sign("POST", PATH, signing_key.auth(), json={"reference": "r", "amount": amount})
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "amount"


def test_points_are_whole(client: Client, signing_key: SigningKey) -> None:
    body = {"reference": "r", "amount": "1.00", "points": "10.5"}
    response = send(client, sign("POST", PATH, signing_key.auth(), json=body))
    assert error_of(response)["field"] == "points"


def test_a_missing_field_is_named(client: Client, signing_key: SigningKey) -> None:
    response = send(client, sign("POST", PATH, signing_key.auth(), json={"amount": "1.00"}))
    assert response.status_code == 400
    assert error_of(response)["field"] == "reference"


def test_malformed_json_is_a_validation_error(client: Client, signing_key: SigningKey) -> None:
    prepared = sign(
        "POST",
        PATH,
        signing_key.auth(),
        data=b'{"reference": "r", "amount": ',
        headers={"Content-Type": "application/json"},
    )
    response = send(client, prepared)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["field"] is None


def test_a_body_that_is_not_an_object_is_a_validation_error(
    client: Client, signing_key: SigningKey
) -> None:
    response = send(client, sign("POST", PATH, signing_key.auth(), json=[1, 2]))
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_a_non_json_body_is_415(client: Client, signing_key: SigningKey) -> None:
    prepared = sign(
        "POST",
        PATH,
        signing_key.auth(),
        data=b"reference=r",
        headers={"Content-Type": "text/plain"},
    )
    response = send(client, prepared)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_an_unknown_path_is_404_signed_or_not(client: Client, signing_key: SigningKey) -> None:
    for auth in (None, signing_key.auth()):
        response = send(client, sign("GET", "/api/v1/no-such-thing", auth))
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert error_of(response)["code"] == "not_found"


def test_a_wrong_method_is_405_with_allow(client: Client, signing_key: SigningKey) -> None:
    response = send(client, sign("PUT", "/api/v1/ping", signing_key.auth(), json={}))
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_messages_follow_accept_language(client: Client, signing_key: SigningKey) -> None:
    prepared = sign("PUT", "/api/v1/ping", signing_key.auth(), json={})
    response = send(client, prepared, headers={"Accept-Language": "zh-Hans"})
    error = error_of(response)
    assert error["code"] == "method_not_allowed"
    assert "方法" in error["message"]
    english = send(
        client,
        sign("PUT", "/api/v1/ping", signing_key.auth(), json={}),
        headers={"Accept-Language": "en"},
    )
    assert error_of(english)["message"] == 'Method "PUT" not allowed.'


def test_too_many_requests_per_key_is_429_with_retry_after(
    client: Client, signing_key: SigningKey, settings: Any, fresh_rate_window: Any
) -> None:
    cache.clear()
    settings.PLATFORM_API_RATE_LIMIT = "3/minute"
    codes = [
        send(client, sign("GET", "/api/v1/ping", signing_key.auth())).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 200]
    response = send(client, sign("GET", "/api/v1/ping", signing_key.auth()))
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 61


def test_the_rate_limit_is_per_key(
    client: Client, signing_key: SigningKey, settings: Any, fresh_rate_window: Any
) -> None:
    from tests.platforms.conftest import register_key

    cache.clear()
    settings.PLATFORM_API_RATE_LIMIT = "1/minute"
    other = register_key()
    assert send(client, sign("GET", "/api/v1/ping", signing_key.auth())).status_code == 200
    assert send(client, sign("GET", "/api/v1/ping", other.auth())).status_code == 200
    assert send(client, sign("GET", "/api/v1/ping", other.auth())).status_code == 429


def test_nested_validation_errors_are_named_as_paths() -> None:
    detail = {"usage": [{}, {"model": ["Unknown model."]}]}
    assert first_validation_error(detail) == ("usage[1].model", "Unknown model.")
    assert first_validation_error({"non_field_errors": ["Bad."]}) == (None, "Bad.")
    assert first_validation_error(["Invalid data."]) == (None, "Invalid data.")


# The contract's codes and their statuses (platform-api.md): they never change.
CONTRACT_STATUS = {
    "validation_error": 400,
    "signature_missing": 401,
    "signature_invalid": 401,
    "key_unknown": 401,
    "key_revoked": 401,
    "signature_stale": 401,
    "nonce_replayed": 401,
    "platform_suspended": 403,
    "platform_not_bound": 403,
    "voucher_not_found": 404,
    "hold_not_found": 404,
    "redemption_not_found": 404,
    "voucher_not_active": 409,
    "voucher_expired": 409,
    "voucher_exhausted": 409,
    "insufficient_balance": 409,
    "hold_not_open": 409,
    "idempotency_key_reused": 409,
    "reference_conflict": 409,
    # Settlements (contract v1.1).
    "settlement_not_found": 404,
    "settlement_not_open": 409,
    "settlement_amount_mismatch": 409,
    "rate_limited": 429,
}


def test_every_business_code_has_its_contract_status() -> None:
    assert STATUS == CONTRACT_STATUS
    assert Code.known() == ApiCode.declared() == set(STATUS)
    assert {code: ALL_CODES[code] for code in CONTRACT_STATUS} == CONTRACT_STATUS


def test_the_services_codes_leave_the_api_layers_own_to_the_api() -> None:
    assert "signature_missing" not in Code.declared()
    assert Code.declared() < ApiCode.declared()


def test_an_api_layer_code_is_a_business_error_code_too() -> None:
    refusal = BusinessError(ApiCode.NONCE_REPLAYED, "replayed")
    assert (refusal.code, refusal.field, refusal.messages) == ("nonce_replayed", None, ["replayed"])


def test_a_business_refusal_is_answered_with_its_status_and_body(
    client: Client, signing_key: SigningKey
) -> None:
    body = {"reference": "r", "amount": "1.00", "refuse": True}
    response = send(client, sign("POST", PATH, signing_key.auth(), json=body))
    assert response.status_code == 409
    assert "WWW-Authenticate" not in response
    assert error_of(response) == {
        "code": "insufficient_balance",
        "message": "refused after writing",
        "field": None,
    }
