"""Each signature refusal of the contract, produced by a request that deserves it."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import pytest
import time_machine
from django.test import Client
from http_message_signatures import HTTPMessageSigner, algorithms
from http_message_signatures.resolvers import MappingKeyResolver

from accounts.models import ComputePlatform
from audit.services import Actor
from platforms.models import SignatureNonce
from platforms.services import platform_key_revoke
from platforms.signatures import nonce_prune
from tests.platforms.conftest import (
    SigningKey,
    error_of,
    independent_sign,
    register_key,
    send,
    shifted_auth,
    sign,
)
from tests.platforms.factories import new_key_pair

pytestmark = pytest.mark.django_db


def SECONDS(n: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=n)


def test_a_request_signed_by_the_stock_client_is_accepted(
    client: Client, signing_key: SigningKey
) -> None:
    response = send(client, sign("GET", "/api/v1/ping", signing_key.auth()))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["platform"] == signing_key.platform.slug
    assert body["key_id"] == signing_key.key_id


def test_an_unsigned_request_is_signature_missing(client: Client, signing_key: SigningKey) -> None:
    response = send(client, sign("GET", "/api/v1/ping", None))
    assert response.status_code == 401
    assert error_of(response)["code"] == "signature_missing"
    assert response["WWW-Authenticate"].startswith("Signature ")


def test_a_signature_without_its_input_header_is_signature_missing(
    client: Client, signing_key: SigningKey
) -> None:
    response = send(
        client, sign("GET", "/api/v1/ping", signing_key.auth()), headers={"Signature-Input": None}
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "signature_missing"


def test_a_tampered_body_is_signature_invalid(client: Client, signing_key: SigningKey) -> None:
    prepared = sign("POST", "/api/v1/ping", signing_key.auth(), json={"amount": "1.00"})
    response = send(client, prepared, body=b'{"amount": "1000.00"}')
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "signature_invalid"
    assert "Content-Digest" in error["message"]


def test_a_digest_of_another_body_is_signature_invalid(
    client: Client, signing_key: SigningKey
) -> None:
    other = sign("POST", "/api/v1/ping", signing_key.auth(), json={"amount": "1000.00"})
    prepared = sign("POST", "/api/v1/ping", signing_key.auth(), json={"amount": "1.00"})
    response = send(
        client,
        prepared,
        body=other.body,
        headers={"Content-Digest": other.headers["Content-Digest"]},
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "signature_invalid"


def test_a_signature_that_does_not_cover_the_target_uri_is_signature_invalid(
    client: Client, signing_key: SigningKey
) -> None:
    auth = signing_key.auth(covered_component_ids=("@method", "@authority"))
    response = send(client, sign("GET", "/api/v1/ping", auth))
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "signature_invalid"
    assert "@target-uri" in error["message"]


def test_a_body_whose_digest_is_not_covered_is_signature_invalid(
    client: Client, signing_key: SigningKey
) -> None:
    prepared = sign("POST", "/api/v1/ping", None, json={"amount": "1.00"})
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(
            private_keys={signing_key.key_id: signing_key.private_pem}, public_keys={}
        ),
    )
    # Signed without the body: no Content-Digest at all.
    signer.sign(prepared, key_id=signing_key.key_id, nonce="n-uncovered-digest")
    response = send(client, prepared)
    assert response.status_code == 401
    assert error_of(response)["code"] == "signature_invalid"


def test_a_request_to_another_url_than_signed_is_signature_invalid(
    client: Client, signing_key: SigningKey
) -> None:
    prepared = sign("GET", "/api/v1/ping?x=1", signing_key.auth())
    prepared.url = "http://testserver/api/v1/ping?x=2"
    response = send(client, prepared)
    assert response.status_code == 401
    assert error_of(response)["code"] == "signature_invalid"


def test_a_signature_made_with_another_private_key_is_signature_invalid(
    client: Client, signing_key: SigningKey
) -> None:
    wrong_private, _public = new_key_pair()
    forger = SigningKey(
        platform=signing_key.platform, key=signing_key.key, private_pem=wrong_private
    )
    response = send(client, sign("GET", "/api/v1/ping", forger.auth()))
    assert response.status_code == 401
    assert error_of(response)["code"] == "signature_invalid"


def test_an_unregistered_key_id_is_key_unknown(client: Client, signing_key: SigningKey) -> None:
    response = send(client, sign("GET", "/api/v1/ping", signing_key.auth(key_id="pk_nobody")))
    assert response.status_code == 401
    assert error_of(response)["code"] == "key_unknown"


def test_a_revoked_key_is_key_revoked(client: Client, signing_key: SigningKey) -> None:
    platform_key_revoke(actor=Actor.system("test"), key=signing_key.key)
    response = send(client, sign("GET", "/api/v1/ping", signing_key.auth()))
    assert response.status_code == 401
    assert error_of(response)["code"] == "key_revoked"


def test_another_key_of_the_platform_still_works_after_one_is_revoked(
    client: Client, signing_key: SigningKey
) -> None:
    second = register_key(signing_key.platform)
    platform_key_revoke(actor=Actor.system("test"), key=signing_key.key)
    assert send(client, sign("GET", "/api/v1/ping", second.auth())).status_code == 200


@pytest.mark.parametrize("seconds", [301, 3600])
def test_a_signature_created_over_300_seconds_ago_is_stale(
    client: Client, signing_key: SigningKey, seconds: int
) -> None:
    auth = shifted_auth(signing_key, -datetime.timedelta(seconds=seconds))
    response = send(client, sign("GET", "/api/v1/ping", auth))
    assert response.status_code == 401
    assert error_of(response)["code"] == "signature_stale"


def test_a_signature_created_more_than_30_seconds_ahead_is_stale(
    client: Client, signing_key: SigningKey
) -> None:
    auth = shifted_auth(signing_key, datetime.timedelta(seconds=45))
    response = send(client, sign("GET", "/api/v1/ping", auth))
    assert response.status_code == 401
    assert error_of(response)["code"] == "signature_stale"


def test_small_clock_differences_are_tolerated(client: Client, signing_key: SigningKey) -> None:
    for shift in (-250, 20):
        auth = shifted_auth(signing_key, datetime.timedelta(seconds=shift))
        assert send(client, sign("GET", "/api/v1/ping", auth)).status_code == 200


def test_the_same_signed_request_twice_is_nonce_replayed(
    client: Client, signing_key: SigningKey
) -> None:
    prepared = sign("GET", "/api/v1/ping", signing_key.auth())
    assert send(client, prepared).status_code == 200
    response = send(client, prepared)
    assert response.status_code == 401
    assert error_of(response)["code"] == "nonce_replayed"


def test_a_nonce_is_per_key(client: Client, signing_key: SigningKey) -> None:
    other = register_key()

    class FixedNonce:
        def __init__(self, signing: SigningKey) -> None:
            self.auth = signing.auth()
            self.auth.get_nonce = lambda request: "the-same-nonce"  # type: ignore[method-assign]

    assert (
        send(client, sign("GET", "/api/v1/ping", FixedNonce(signing_key).auth)).status_code == 200
    )
    assert send(client, sign("GET", "/api/v1/ping", FixedNonce(other).auth)).status_code == 200
    again = send(client, sign("GET", "/api/v1/ping", FixedNonce(signing_key).auth))
    assert error_of(again)["code"] == "nonce_replayed"


def test_a_nonce_is_accepted_again_after_the_window(
    client: Client, signing_key: SigningKey
) -> None:
    prepared = sign("GET", "/api/v1/ping", signing_key.auth())
    assert send(client, prepared).status_code == 200
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    SignatureNonce.objects.update(seen_at=long_ago, expires_at=long_ago)
    assert nonce_prune() == 1
    assert send(client, prepared).status_code == 200


def test_a_signature_created_ahead_of_the_clock_cannot_be_replayed_while_it_is_fresh(
    client: Client, signing_key: SigningKey
) -> None:
    # created = now + 29 s: accepted until created + 300 s, i.e. 329 s from now.
    start = datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        prepared = sign("GET", "/api/v1/ping", shifted_auth(signing_key, SECONDS(29)))
        assert send(client, prepared).status_code == 200
    for later in (301, 325):
        with time_machine.travel(start + SECONDS(later), tick=False):
            replay = send(client, prepared)
        assert replay.status_code == 401, (later, replay.content)
        assert error_of(replay)["code"] == "nonce_replayed"
    # Once the signature itself is stale, the nonce may be forgotten.
    with time_machine.travel(start + SECONDS(360), tick=False):
        assert nonce_prune() == 1
        assert error_of(send(client, prepared))["code"] == "signature_stale"


def test_a_nonce_is_refused_for_the_whole_window_from_its_first_use(
    client: Client, signing_key: SigningKey
) -> None:
    """A nonce used once stays used for the window, even under a new signature."""
    start = datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0)

    def fixed_nonce_auth() -> Any:
        auth = signing_key.auth()
        auth.get_nonce = lambda request: "nonce-once"  # type: ignore[method-assign]
        return auth

    with time_machine.travel(start, tick=False):
        assert send(client, sign("GET", "/api/v1/ping", fixed_nonce_auth())).status_code == 200
    with time_machine.travel(start + SECONDS(299), tick=False):
        again = send(client, sign("GET", "/api/v1/ping", fixed_nonce_auth()))
    assert error_of(again)["code"] == "nonce_replayed"


def test_operators_can_shorten_the_signature_window(
    client: Client, signing_key: SigningKey, settings: Any
) -> None:
    settings.PLATFORM_SIGNATURE_MAX_AGE = 60
    settings.PLATFORM_SIGNATURE_MAX_FUTURE = 5
    old = send(client, sign("GET", "/api/v1/ping", shifted_auth(signing_key, SECONDS(-61))))
    assert error_of(old)["code"] == "signature_stale"
    assert "60 seconds" in error_of(old)["message"]
    ahead = send(client, sign("GET", "/api/v1/ping", shifted_auth(signing_key, SECONDS(10))))
    assert error_of(ahead)["code"] == "signature_stale"
    assert "5 seconds" in error_of(ahead)["message"]
    start = datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        prepared = sign("GET", "/api/v1/ping", shifted_auth(signing_key, SECONDS(4)))
        assert send(client, prepared).status_code == 200
    with time_machine.travel(start + SECONDS(63), tick=False):
        assert error_of(send(client, prepared))["code"] == "nonce_replayed"
    with time_machine.travel(start + SECONDS(70), tick=False):
        assert nonce_prune() == 1
        assert error_of(send(client, prepared))["code"] == "signature_stale"


def test_a_suspended_platform_is_refused_with_403(client: Client, signing_key: SigningKey) -> None:
    ComputePlatform.objects.filter(pk=signing_key.platform.pk).update(
        status=ComputePlatform.Status.SUSPENDED
    )
    response = send(client, sign("GET", "/api/v1/ping", signing_key.auth()))
    assert response.status_code == 403
    assert error_of(response)["code"] == "platform_suspended"


def test_a_signature_without_nonce_is_signature_invalid(
    client: Client, signing_key: SigningKey
) -> None:
    response = send(client, sign("GET", "/api/v1/ping", signing_key.auth(use_nonce=False)))
    assert response.status_code == 401
    assert error_of(response)["code"] == "signature_invalid"


def test_garbage_signature_headers_are_signature_invalid(
    client: Client, signing_key: SigningKey
) -> None:
    response = send(
        client,
        sign("GET", "/api/v1/ping", signing_key.auth()),
        headers={"Signature-Input": "not a ( dictionary", "Signature": "x"},
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "signature_invalid"


def test_behind_a_tls_proxy_the_signed_https_url_is_verified(
    client: Client, signing_key: SigningKey, settings: Any
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = ["api.example.cn", "testserver"]
    prepared = sign("GET", "/api/v1/ping", None)
    prepared.url = "https://api.example.cn/api/v1/ping"
    signing_key.auth()(prepared)
    # The proxy forwards plain HTTP to the app and says what the client used.
    response = send(
        client,
        prepared,
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.cn"},
    )
    assert response.status_code == 200, response.content


def test_without_the_proxy_settings_a_proxied_https_signature_does_not_verify(
    client: Client, signing_key: SigningKey, settings: Any
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.USE_X_FORWARDED_HOST = False
    prepared = sign("GET", "/api/v1/ping", None)
    prepared.url = "https://api.example.cn/api/v1/ping"
    signing_key.auth()(prepared)
    response = send(
        client,
        prepared,
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.cn"},
    )
    assert error_of(response)["code"] == "signature_invalid"


def _redis_reachable() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_reachable(), reason="needs Redis at 127.0.0.1:6379")
def test_with_a_redis_cache_nonces_are_kept_in_redis(
    client: Client, signing_key: SigningKey, settings: Any
) -> None:
    # Keys are prefixed per test key and expire by themselves (300 s nonces,
    # 61 s rate windows); nothing is flushed, so a shared Redis is left alone.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": f"wt5-test-{signing_key.key_id}",
        }
    }
    prepared = sign("GET", "/api/v1/ping", signing_key.auth())
    assert send(client, prepared).status_code == 200
    replay = send(client, prepared)
    assert error_of(replay)["code"] == "nonce_replayed"
    assert not SignatureNonce.objects.exists()


@pytest.mark.skipif(not _redis_reachable(), reason="needs Redis at 127.0.0.1:6379")
def test_in_redis_a_nonce_of_a_signature_created_ahead_lives_as_long_as_the_signature(
    client: Client, signing_key: SigningKey, settings: Any
) -> None:
    from django.core.cache import cache

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": f"wt5-test-{signing_key.key_id}",
        }
    }
    auth = shifted_auth(signing_key, SECONDS(29))
    auth.get_nonce = lambda request: "ahead-nonce"  # type: ignore[method-assign]
    assert send(client, sign("GET", "/api/v1/ping", auth)).status_code == 200
    digest = hashlib.sha256(b"ahead-nonce").hexdigest()
    key = cache.make_key(f"platforms:nonce:{signing_key.key.pk}:{digest}")
    ttl = cache._cache.get_client(key).ttl(key)  # type: ignore[attr-defined]
    # created + 300 + 30 s from now, not 300 s from first use.
    assert 350 <= ttl <= 360, ttl


# -- Independent RFC 9421 clients ------------------------------------------------------

FULL = ("@method", "@authority", "@target-uri")


def _gateway_signs(prepared: Any, *, covered: tuple[str, ...] | None = None) -> None:
    """An egress gateway adds its own signature, with a key the server never saw."""
    gateway_private, _public = new_key_pair()
    independent_sign(
        prepared,
        key_id="egress-gw-1",
        private_pem=gateway_private,
        covered=covered or ("@method", "@target-uri", '"signature";key="pyhms"'),
        label="gateway",
        append=True,
    )


def test_a_second_signature_beside_the_platforms_is_kept_and_the_platforms_verified(
    client: Client, signing_key: SigningKey
) -> None:
    prepared = sign("GET", "/api/v1/ping", signing_key.auth())
    _gateway_signs(prepared)
    assert "gateway=" in prepared.headers["Signature-Input"]
    response = send(client, prepared)
    assert response.status_code == 200, response.content
    assert response.json()["key_id"] == signing_key.key_id
    # Its nonce is consumed like any other.
    assert error_of(send(client, prepared))["code"] == "nonce_replayed"


def test_the_gateway_signature_may_come_first(client: Client, signing_key: SigningKey) -> None:
    gateway_private, _public = new_key_pair()
    prepared = sign("GET", "/api/v1/ping", None)
    independent_sign(prepared, key_id="egress-gw-1", private_pem=gateway_private, label="gw")
    independent_sign(
        prepared,
        key_id=signing_key.key_id,
        private_pem=signing_key.private_pem,
        label="platform",
        append=True,
    )
    response = send(client, prepared)
    assert response.status_code == 200, response.content


def test_a_forged_platform_signature_beside_a_gateways_is_still_signature_invalid(
    client: Client, signing_key: SigningKey
) -> None:
    wrong_private, _public = new_key_pair()
    prepared = sign("GET", "/api/v1/ping", None)
    independent_sign(prepared, key_id=signing_key.key_id, private_pem=wrong_private)
    _gateway_signs(prepared, covered=FULL)
    assert error_of(send(client, prepared))["code"] == "signature_invalid"


def test_two_signatures_by_platform_keys_are_refused(
    client: Client, signing_key: SigningKey
) -> None:
    second = register_key(signing_key.platform)
    prepared = sign("GET", "/api/v1/ping", signing_key.auth())
    independent_sign(
        prepared, key_id=second.key_id, private_pem=second.private_pem, label="two", append=True
    )
    error = error_of(send(client, prepared))
    assert error["code"] == "signature_invalid"
    assert "platform key" in error["message"]


def test_several_signatures_none_by_a_platform_key_are_key_unknown(
    client: Client, signing_key: SigningKey
) -> None:
    prepared = sign("GET", "/api/v1/ping", signing_key.auth(key_id="pk_nobody"))
    _gateway_signs(prepared, covered=FULL)
    assert error_of(send(client, prepared))["code"] == "key_unknown"


def test_an_upper_case_component_name_is_refused_for_what_it_is(
    client: Client, signing_key: SigningKey
) -> None:
    prepared = sign("POST", "/api/v1/ping", None, json={"amount": "1.00"})
    independent_sign(
        prepared,
        key_id=signing_key.key_id,
        private_pem=signing_key.private_pem,
        covered=(*FULL, "content-digest"),
    )
    # A signer that writes the field name as it appears in the header.
    prepared.headers["Signature-Input"] = prepared.headers["Signature-Input"].replace(
        '"content-digest"', '"Content-Digest"'
    )
    response = send(client, prepared)
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "signature_invalid"
    assert "lower case" in error["message"]
    assert '"content-digest"' in error["message"]
    assert "must carry" not in error["message"]


def test_a_chunked_body_the_server_cannot_read_is_refused_with_its_own_message(
    client: Client, signing_key: SigningKey
) -> None:
    prepared = sign("POST", "/api/v1/ping", signing_key.auth(), json={"amount": "1.00"})
    # No Content-Length, and a server that leaves the chunking to the app
    # (Django's development server): the body cannot be read safely.
    response = send(client, prepared, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "chunked" in error["message"]
    assert "Content-Length" in error["message"]
