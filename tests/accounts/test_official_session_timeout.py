"""Officials' sessions end after idleness and after an absolute lifetime."""

from __future__ import annotations

import time
from typing import Any

import pytest
from allauth.mfa.models import Authenticator

from accounts.middleware import OfficialSessionTimeoutMiddleware as Timeout
from accounts.models import District, Membership, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def official(client: Any) -> User:
    district = District.objects.create(code="420103", name="江汉区")
    user = User.objects.create_user("reviewer@example.gov.cn", "pw")
    Membership.objects.create(user=user, role=Membership.Role.REVIEWER, district=district)
    # An authenticator row is enough for the MFA middleware to let them through.
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    client.force_login(user)
    return user


def _age_session(client: Any, **offsets: int) -> None:
    session = client.session
    now = int(time.time())
    for key, seconds in offsets.items():
        session[key] = now - seconds
    session.save()


def test_an_active_official_stays_signed_in(client: Any, official: User) -> None:
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_an_official_idle_past_the_limit_is_signed_out(
    client: Any, official: User, settings: Any
) -> None:
    client.get("/admin/")
    _age_session(client, **{Timeout.IDLE_KEY: settings.OFFICIAL_SESSION_IDLE_SECONDS + 5})
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_an_official_past_the_absolute_lifetime_is_signed_out_even_if_active(
    client: Any, official: User, settings: Any
) -> None:
    client.get("/admin/")
    _age_session(
        client,
        **{Timeout.START_KEY: settings.OFFICIAL_SESSION_ABSOLUTE_SECONDS + 5, Timeout.IDLE_KEY: 1},
    )
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_enterprise_users_are_not_subject_to_the_official_limits(
    client: Any, settings: Any
) -> None:
    user = User.objects.create_user("someone@example.com", "pw")
    client.force_login(user)
    client.get("/")
    _age_session(client, **{Timeout.IDLE_KEY: settings.OFFICIAL_SESSION_IDLE_SECONDS + 5})
    client.get("/")
    assert "_auth_user_id" in client.session


def test_a_deactivated_user_is_signed_out_on_the_next_request(client: Any, official: User) -> None:
    assert client.get("/admin/").status_code == 200
    User.objects.filter(pk=official.pk).update(is_active=False)
    response = client.get("/admin/", follow=True)
    # The admin sends anonymous users to its login, which hands over to allauth's.
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert not response.wsgi_request.user.is_authenticated
