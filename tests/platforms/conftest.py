"""Signed-request helpers: the stock client signs, the Django test client sends.

``sign()`` prepares a real ``requests`` request and signs it with the stock
``requests-http-signature`` auth, exactly as a platform would; ``send()``
hands the prepared request's method, URL, headers and body bytes to the
Django test client unchanged (or tampered with, when a test says so).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client
from http_message_signatures import ContentDigest, HTTPMessageSigner
from http_message_signatures.resolvers import MappingKeyResolver
from requests_http_signature import HTTPSignatureAuth, algorithms

from accounts.models import ComputePlatform
from audit.services import Actor
from platforms.models import PlatformKey
from platforms.services import platform_key_register
from tests.accounts.factories import ComputePlatformFactory
from tests.platforms.factories import new_key_pair

BASE = "http://testserver"


@dataclass
class SigningKey:
    platform: ComputePlatform
    key: PlatformKey
    private_pem: bytes

    @property
    def key_id(self) -> str:
        return self.key.key_id

    def auth(self, **kwargs: Any) -> HTTPSignatureAuth:
        return HTTPSignatureAuth(
            signature_algorithm=algorithms.ED25519,
            key=self.private_pem,
            key_id=kwargs.pop("key_id", self.key_id),
            use_nonce=kwargs.pop("use_nonce", True),
            **kwargs,
        )


def register_key(platform: ComputePlatform | None = None) -> SigningKey:
    platform = platform or ComputePlatformFactory()
    private_pem, public_pem = new_key_pair()
    key = platform_key_register(
        actor=Actor.system("test"), platform=platform, public_key_pem=public_pem, label="test"
    )
    return SigningKey(platform=platform, key=key, private_pem=private_pem)


@pytest.fixture
def signing_key(db: Any) -> SigningKey:
    return register_key()


class _ClockAuth(HTTPSignatureAuth):
    """The stock auth with its clock moved, for stale / future signatures."""

    shift = datetime.timedelta(0)

    def get_created(self, request: requests.PreparedRequest) -> datetime.datetime:
        return super().get_created(request) + self.shift


def shifted_auth(signing: SigningKey, shift: datetime.timedelta) -> HTTPSignatureAuth:
    auth = _ClockAuth(
        signature_algorithm=algorithms.ED25519,
        key=signing.private_pem,
        key_id=signing.key_id,
        use_nonce=True,
    )
    auth.shift = shift
    return auth


def sign(
    method: str,
    path: str,
    auth: HTTPSignatureAuth | None,
    *,
    json: Any = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
) -> requests.PreparedRequest:
    prepared = requests.Request(
        method, BASE + path, json=json, data=data, headers=headers or {}
    ).prepare()
    if auth is not None:
        auth(prepared)
    return prepared


def independent_sign(
    prepared: requests.PreparedRequest,
    *,
    key_id: str,
    private_pem: bytes,
    covered: tuple[str, ...] = ("@method", "@authority", "@target-uri"),
    label: str = "sig1",
    append: bool = False,
    digest: bool = True,
) -> requests.PreparedRequest:
    """Sign ``prepared`` the way another RFC 9421 implementation may: its own
    label, its own way of naming the covered components (``covered``), a
    Content-Digest it wrote itself; ``append`` adds the signature beside those
    already there (RFC 9421 §4.3), as an egress gateway does."""
    if digest and prepared.body and "Content-Digest" not in prepared.headers:
        raw = prepared.body or b""
        prepared.headers["Content-Digest"] = ContentDigest.create(
            raw.encode() if isinstance(raw, str) else raw
        )
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(private_keys={key_id: private_pem}, public_keys={}),
    )
    signer.sign(
        prepared,
        key_id=key_id,
        nonce=uuid.uuid4().hex,
        label=label,
        covered_component_ids=covered,
        append_if_signature_exists=append,
        use_existing_digest="Content-Digest" in prepared.headers,
    )
    return prepared


def send(
    client: Client,
    prepared: requests.PreparedRequest,
    *,
    body: bytes | None = None,
    headers: dict[str, str | None] | None = None,
    **extra: Any,
) -> Any:
    url = urlsplit(prepared.url)
    path = url.path + (f"?{url.query}" if url.query else "")
    sent_headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
    for name, value in (headers or {}).items():
        sent_headers = {k: v for k, v in sent_headers.items() if k.lower() != name.lower()}
        if value is not None:
            sent_headers[name] = value
    content_type = ""
    for name in list(sent_headers):
        if name.lower() == "content-type":
            content_type = sent_headers.pop(name)
    if body is None:
        raw = prepared.body or b""
        body = raw.encode() if isinstance(raw, str) else raw
    return client.generic(
        prepared.method or "GET",
        path,
        data=body,
        content_type=content_type,
        headers=sent_headers,
        **extra,
    )


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    return body["error"]


@pytest.fixture
def fresh_rate_window() -> Any:
    """Starts the test at the first second of a minute, the clock running.

    The rate limit counts per fixed minute window; a test that makes its
    requests across a minute boundary sees two windows and no 429. Moving
    the clock to the start of the next minute (forward, so signatures made
    by the test stay inside the server's acceptance window) leaves the
    whole minute for the test's few requests.
    """
    import time_machine

    now = datetime.datetime.now(datetime.UTC)
    start = now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    with time_machine.travel(start, tick=True):
        yield start
