"""The platform API's pruning tasks delete only what is no longer kept."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from platforms.models import IdempotencyRecord, SignatureNonce
from platforms.tasks import prune_idempotency_records, prune_signature_nonces
from tests.platforms.conftest import SigningKey, send, sign

pytestmark = pytest.mark.django_db


def test_the_nonce_task_deletes_expired_nonces_and_keeps_the_rest(
    client: Client, signing_key: SigningKey
) -> None:
    assert send(client, sign("GET", "/api/v1/ping", signing_key.auth())).status_code == 200
    assert send(client, sign("GET", "/api/v1/ping", signing_key.auth())).status_code == 200
    assert SignatureNonce.objects.count() == 2
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    SignatureNonce.objects.filter(pk=SignatureNonce.objects.earliest("pk").pk).update(
        seen_at=long_ago, expires_at=long_ago
    )
    assert prune_signature_nonces.delay().get() == 1
    assert prune_signature_nonces.delay().get() == 0
    assert SignatureNonce.objects.count() == 1


def test_the_idempotency_task_deletes_records_older_than_a_day(signing_key: SigningKey) -> None:
    now = datetime.datetime.now(datetime.UTC)
    for key, age in (("old", datetime.timedelta(hours=25)), ("new", datetime.timedelta(hours=1))):
        record = IdempotencyRecord.objects.create(
            platform=signing_key.platform, key=key, request_hash="0" * 64
        )
        IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=now - age)
    assert prune_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
