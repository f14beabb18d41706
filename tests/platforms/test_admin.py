"""The admin of platform keys and catalog rows: who may do what, and that
writes go through the audited services."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from accounts.models import District, Membership, User
from audit import events
from audit.models import AuditEvent
from audit.services import Actor
from platforms.models import ModelCatalogEntry, PlatformKey
from platforms.services import platform_key_register
from tests.accounts.factories import ComputePlatformFactory
from tests.platforms.factories import ModelCatalogEntryFactory, new_key_pair

pytestmark = pytest.mark.django_db

BACKEND = "allauth.account.auth_backends.AuthenticationBackend"
ADD_KEY = "/admin/platforms/platformkey/add/"
KEYS = "/admin/platforms/platformkey/"


def _logged_in(client: Client, user: User) -> Client:
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    client.force_login(user, backend=BACKEND)
    return client


@pytest.fixture
def superuser_client(client: Client) -> Client:
    user = User.objects.create_user("root@example.com", "pw-Long-enough-1", is_superuser=True)
    return _logged_in(client, user)


@pytest.fixture
def official(db: Any) -> User:
    district = District.objects.create(code="420103", name="江汉区", name_en="Jianghan")
    user = User.objects.create_user("official@example.gov.cn", "pw-Long-enough-1")
    Membership.objects.create(user=user, role=Membership.Role.AUDITOR, district=district)
    return user


def test_a_superuser_registers_a_key_in_the_admin_and_it_is_audited(
    superuser_client: Client,
) -> None:
    platform = ComputePlatformFactory()
    _private, public = new_key_pair()
    response = superuser_client.post(
        ADD_KEY, {"platform": platform.pk, "label": "prod", "public_key_pem": public}, follow=True
    )
    assert response.status_code == 200
    key = PlatformKey.objects.get()
    assert key.platform == platform
    assert key.key_id.startswith("pk_")
    assert key.key_id in response.content.decode()
    event = AuditEvent.objects.get(event_type=events.PLATFORM_KEY_REGISTERED)
    assert event.platform_id == platform.pk
    assert event.actor_label == "root@example.com"


def test_a_bad_key_is_refused_next_to_the_field_and_the_input_kept(
    superuser_client: Client,
) -> None:
    platform = ComputePlatformFactory()
    response = superuser_client.post(
        ADD_KEY, {"platform": platform.pk, "label": "prod", "public_key_pem": "not a key"}
    )
    assert response.status_code == 200
    assert "public_key_pem" in response.context["adminform"].form.errors
    assert "not a key" in response.content.decode()
    assert not PlatformKey.objects.exists()


def test_the_revoke_action_revokes_and_audits(superuser_client: Client) -> None:
    platform = ComputePlatformFactory()
    _private, public = new_key_pair()
    key = platform_key_register(actor=Actor.system("t"), platform=platform, public_key_pem=public)
    response = superuser_client.post(
        KEYS, {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(event_type=events.PLATFORM_KEY_REVOKED).count() == 1


def test_keys_cannot_be_edited_or_deleted(superuser_client: Client) -> None:
    platform = ComputePlatformFactory()
    _private, public = new_key_pair()
    key = platform_key_register(actor=Actor.system("t"), platform=platform, public_key_pem=public)
    response = superuser_client.post(
        f"{KEYS}{key.pk}/change/",
        {"platform": platform.pk, "label": "changed", "public_key_pem": public},
    )
    key.refresh_from_db()
    assert key.label == ""
    assert superuser_client.post(f"{KEYS}{key.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PlatformKey.objects.filter(pk=key.pk).exists()
    assert response.status_code in (200, 302, 403)


def test_an_official_sees_keys_of_platforms_serving_the_district_but_cannot_add(
    client: Client, official: User
) -> None:
    district = District.objects.get(code="420103")
    serving = ComputePlatformFactory()
    serving.districts_served.add(district)
    elsewhere = ComputePlatformFactory()
    for platform in (serving, elsewhere):
        _private, public = new_key_pair()
        platform_key_register(actor=Actor.system("t"), platform=platform, public_key_pem=public)
    client = _logged_in(client, official)
    listing = client.get(KEYS)
    assert listing.status_code == 200
    shown = {k.platform_id for k in listing.context["cl"].queryset}
    assert shown == {serving.pk}
    assert client.get(ADD_KEY).status_code == 403


def test_an_operator_or_enterprise_user_cannot_reach_the_admin(client: Client) -> None:
    platform = ComputePlatformFactory()
    user = User.objects.create_user("op@example.com", "pw-Long-enough-1")
    Membership.objects.create(user=user, role=Membership.Role.PLATFORM_OPERATOR, platform=platform)
    client.force_login(user, backend=BACKEND)
    response = client.get(KEYS)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_superuser_adds_a_catalog_row_through_the_service(superuser_client: Client) -> None:
    platform = ComputePlatformFactory()
    response = superuser_client.post(
        "/admin/platforms/modelcatalogentry/add/",
        {
            "platform": platform.pk,
            "model_id": "glm-5",
            "display_name": "GLM-5",
            "price_input_per_1k": "0.004",
            "price_output_per_1k": "0.018",
            "points_input_per_1k": "1000",
            "points_output_per_1k": "4500",
            "valid_from_0": "2026-01-01",
            "valid_from_1": "00:00:00",
        },
        follow=True,
    )
    assert response.status_code == 200
    entry = ModelCatalogEntry.objects.get()
    assert entry.points_output_per_1k == 4500
    assert AuditEvent.objects.filter(event_type=events.CATALOG_ENTRY_CREATED).count() == 1


def test_catalog_rows_are_not_edited(superuser_client: Client) -> None:
    entry = ModelCatalogEntryFactory()
    superuser_client.post(
        f"/admin/platforms/modelcatalogentry/{entry.pk}/change/",
        {"display_name": "Renamed", "points_input_per_1k": "1"},
    )
    entry.refresh_from_db()
    assert entry.display_name == "Kimi-K2.5"
    assert entry.points_input_per_1k == 1000
