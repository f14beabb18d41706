"""Officials and superusers must set up TOTP before anything else, platform
operators before their operator pages; enterprise users are not forced to."""

from __future__ import annotations

import time
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    format_hotp_value,
    hotp_value,
)
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.factories import PASSWORD, add_totp
from tests.world import World, build_world

pytestmark = pytest.mark.django_db

PAGES = ["/", "/portal/", "/admin/", "/admin/accounts/enterprise/", "/enterprise/register/"]


@pytest.fixture
def world() -> World:
    return build_world()


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", ["official_x", "official_y", "superuser"])
@pytest.mark.parametrize("url", PAGES)
def test_without_totp_every_page_redirects_to_the_totp_set_up(
    world: World, who: str, url: str
) -> None:
    response = client_for(getattr(world, who)).get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


@pytest.mark.parametrize("who", ["official_x", "superuser"])
def test_without_totp_a_post_is_refused_too(world: World, who: str) -> None:
    response = client_for(getattr(world, who)).post("/admin/accounts/enterprise/", {})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def signed_in(user: User) -> Client:
    """A client signed in through allauth's login form (which records the
    authentication that allauth's MFA pages check), not force_login."""
    client = Client()
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_the_redirect_explains_why(world: World) -> None:
    client = signed_in(world.official_x)
    response = client.get("/admin/")
    assert response["Location"] == reverse("mfa_activate_totp")
    page = client.get(reverse("account_reauthenticate"))
    messages = [str(m) for m in page.context["messages"]]
    assert "Officials must set up two-factor authentication before continuing." in messages


def test_an_official_sets_up_totp_on_first_sign_in_and_then_reaches_the_admin(
    world: World, settings: Any
) -> None:
    settings.MFA_TOTP_TOLERANCE = 1  # a code computed just before a 30 s boundary
    client = signed_in(world.official_x)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[0][0] == reverse("mfa_activate_totp")
    # allauth asks for the password again before an MFA change.
    if response.redirect_chain[-1][0].startswith(reverse("account_reauthenticate")):
        response = client.post(response.redirect_chain[-1][0], {"password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == reverse("mfa_activate_totp")
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    response = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert response.status_code == 302
    assert Authenticator.objects.filter(
        user=world.official_x, type=Authenticator.Type.TOTP
    ).exists()
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/enterprise/").status_code == 200


def test_an_official_can_still_sign_out_without_totp(world: World) -> None:
    client = client_for(world.official_x)
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert response["Location"] != reverse("mfa_activate_totp")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("who", ["official_x", "official_y", "superuser"])
def test_with_totp_the_admin_opens(world: World, who: str) -> None:
    user = getattr(world, who)
    add_totp(user)
    response = client_for(user).get("/admin/")
    assert response.status_code == 200


def test_with_totp_the_home_page_opens_for_an_official(world: World) -> None:
    add_totp(world.official_x)
    response = client_for(world.official_x).get("/")
    assert response.status_code == 200


def test_recovery_codes_alone_do_not_count_as_totp(world: World) -> None:
    Authenticator.objects.create(
        user=world.official_x, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "x"}
    )
    response = client_for(world.official_x).get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


@pytest.mark.parametrize("who", ["ent_admin_x", "ent_member_x", "operator_x"])
@pytest.mark.parametrize("url", ["/", "/portal/"])
def test_enterprise_users_and_operators_are_not_forced(world: World, who: str, url: str) -> None:
    response = client_for(getattr(world, who)).get(url)
    assert response.status_code == 200


def test_an_official_signing_in_with_a_password_is_walked_to_the_totp_set_up(
    world: World,
) -> None:
    client = Client()
    response = client.post(
        reverse("account_login"),
        {"login": world.official_x.email, "password": PASSWORD},
        follow=True,
    )
    urls = [url for url, _status in response.redirect_chain]
    assert reverse("mfa_activate_totp") in urls
    assert response.status_code == 200


def test_an_official_with_totp_is_asked_for_the_code_at_sign_in(world: World) -> None:
    add_totp(world.official_x)
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": world.official_x.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session


def test_right_after_login_the_totp_set_up_does_not_ask_for_the_password_again(
    world: World,
) -> None:
    client = signed_in(world.official_x)
    response = client.get("/admin/", follow=True)
    chain = [url for url, _status in response.redirect_chain]
    assert chain == [reverse("mfa_activate_totp")]
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == reverse("mfa_activate_totp")


def test_a_stale_login_is_asked_for_the_password_before_the_totp_set_up(world: World) -> None:
    client = Client()
    client.force_login(world.official_x)  # no record of a recent password entry
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


# -- Platform operators: TOTP before the operator pages --------------------------


def operator_pages(world: World) -> list[str]:
    slug = world.platform_x.slug
    return ["/operator/", f"/operator/{slug}/", f"/operator/{slug}/settlements/"]


def test_an_operator_without_totp_is_sent_to_set_it_up_from_every_operator_page(
    world: World,
) -> None:
    client = client_for(world.operator_x)
    for url in operator_pages(world):
        response = client.get(url)
        assert (url, response.status_code, response["Location"]) == (
            url,
            302,
            reverse("mfa_activate_totp"),
        )


def test_an_operator_without_totp_is_told_why(world: World) -> None:
    client = signed_in(world.operator_x)
    response = client.get(f"/operator/{world.platform_x.slug}/", follow=True)
    assert response.redirect_chain[0][0] == reverse("mfa_activate_totp")
    messages = [str(m) for m in response.context["messages"]]
    assert "Platform operators must set up two-factor authentication before continuing." in messages


def test_an_operator_with_totp_opens_the_operator_pages(world: World) -> None:
    add_totp(world.operator_x)
    client = client_for(world.operator_x)
    for url in operator_pages(world)[1:]:
        assert client.get(url).status_code == 200, url


def test_an_operator_with_totp_is_asked_for_the_code_at_sign_in(world: World) -> None:
    add_totp(world.operator_x)
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": world.operator_x.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session


def test_an_operator_sets_up_totp_and_then_reaches_the_operator_page(
    world: World, settings: Any
) -> None:
    settings.MFA_TOTP_TOLERANCE = 1  # a code computed just before a 30 s boundary
    client = signed_in(world.operator_x)
    page = f"/operator/{world.platform_x.slug}/"
    response = client.get(page, follow=True)
    assert response.request["PATH_INFO"] == reverse("mfa_activate_totp")
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    response = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert response.status_code == 302
    assert client.get(page).status_code == 200


def test_another_users_operator_page_is_not_gated_by_totp_but_refused(world: World) -> None:
    # An enterprise user is no operator: the page refuses them, it does not
    # ask them to set up TOTP for a page they may not open anyway.
    response = client_for(world.ent_admin_x).get(f"/operator/{world.platform_x.slug}/")
    assert response.status_code == 403


def test_the_signed_api_is_not_gated_by_an_operators_session(world: World) -> None:
    # /api/v1/ authenticates by HTTP signature; a session is no credential and
    # an operator's missing TOTP does not turn the contract's 401 into a redirect.
    response = client_for(world.operator_x).get("/api/v1/ping")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_missing"
