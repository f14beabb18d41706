"""A deactivated user's sessions end at their next request."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.accounts.factories import add_totp
from tests.world import build_world

pytestmark = pytest.mark.django_db


def test_deactivating_an_official_ends_their_signed_in_session() -> None:
    from django.test import Client

    world = build_world()
    add_totp(world.official_x)
    client = Client()
    client.force_login(world.official_x)
    assert client.get(reverse("admin:index")).status_code == 200
    world.official_x.is_active = False
    world.official_x.save(update_fields=["is_active"])
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert client.get(reverse("portal")).status_code == 302


def test_deactivating_an_enterprise_user_ends_their_session() -> None:
    from django.test import Client

    world = build_world()
    client = Client()
    client.force_login(world.ent_admin_x)
    assert client.get(reverse("voucher_list")).status_code == 200
    world.ent_admin_x.is_active = False
    world.ent_admin_x.save(update_fields=["is_active"])
    response = client.get(reverse("voucher_list"))
    assert response.status_code == 302
    assert "login" in response["Location"]
