"""Behind the shipped proxy every client keeps its own address: rate limits and audit."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from audit import events
from audit.models import AuditEvent
from config.client_ip import client_ip
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PROXY = "127.0.0.1"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Any:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def behind_nginx(settings: Any) -> Any:
    """The shipped deployment: one nginx in front, appending to X-Forwarded-For."""
    settings.TRUSTED_PROXY_COUNT = 1
    return settings


def _login(email: str, password: str, *, forwarded_for: str | None) -> Any:
    extra: dict[str, str] = {"REMOTE_ADDR": PROXY}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return Client().post(reverse("account_login"), {"login": email, "password": password}, **extra)


def test_ten_failed_logins_from_ten_clients_do_not_lock_out_a_user_at_another_address(
    behind_nginx: Any,
) -> None:
    user = UserFactory(email="real.user@example.com")
    for n in range(10):
        _login(f"nobody{n}@example.com", "wrong", forwarded_for=f"198.51.100.{n + 1}")
    response = _login(user.email, PASSWORD, forwarded_for="203.0.113.9")
    assert response.status_code == 302, response.content[:500]


def test_failed_logins_are_still_limited_per_client_behind_the_proxy(behind_nginx: Any) -> None:
    user = UserFactory(email="limited.user@example.com")
    for n in range(10):
        _login(f"nobody{n}@example.com", "wrong", forwarded_for="198.51.100.66")
    # The client that failed ten times is stopped (the form again, with the
    # "too many attempts" message), even with the right password...
    stopped = _login(user.email, PASSWORD, forwarded_for="198.51.100.66")
    assert stopped.status_code == 200
    assert "_auth_user_id" not in stopped.wsgi_request.session
    # ...and a client that forges its own X-Forwarded-For entry in front of
    # nginx's cannot escape: only the entry nginx appended counts.
    forged = _login(user.email, PASSWORD, forwarded_for="10.9.9.9, 198.51.100.66")
    assert forged.status_code == 200
    # Another client is not.
    assert _login(user.email, PASSWORD, forwarded_for="203.0.113.10").status_code == 302


def test_audit_events_record_the_clients_address_behind_the_proxy(behind_nginx: Any) -> None:
    user = UserFactory(email="audited.behind@example.com")
    _login(user.email, "wrong", forwarded_for="10.1.1.1, 198.51.100.23")
    _login(user.email, PASSWORD, forwarded_for="198.51.100.24")
    failed = AuditEvent.objects.get(event_type=events.USER_LOGIN_FAILED)
    assert failed.source_ip == "198.51.100.23"
    ok = AuditEvent.objects.get(event_type=events.USER_LOGGED_IN)
    assert ok.source_ip == "198.51.100.24"


def test_without_a_trusted_proxy_x_forwarded_for_is_never_believed(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    user = UserFactory(email="direct.user@example.com")
    _login(user.email, PASSWORD, forwarded_for="198.51.100.99")
    assert AuditEvent.objects.get(event_type=events.USER_LOGGED_IN).source_ip == PROXY


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "192.0.2.1"),
        (1, None, "192.0.2.1"),
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (2, "198.51.100.1", "198.51.100.1"),
        (1, "not-an-address", "192.0.2.1"),
        (1, "[2001:db8::1]:4711", "2001:db8::1"),
        (1, "198.51.100.1:4711", "198.51.100.1"),
    ],
)
def test_the_client_address_is_the_entry_our_outermost_proxy_appended(
    settings: Any, count: int, forwarded: str | None, expected: str
) -> None:
    settings.TRUSTED_PROXY_COUNT = count
    extra = {"REMOTE_ADDR": "192.0.2.1"}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(RequestFactory().get("/", **extra)) == expected
