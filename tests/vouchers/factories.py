"""Factories and helpers for the voucher tests (ledger, holds, redemptions), and
for now those of programs and applications, in sections of their own.

People and organisations come from ``tests.accounts.factories``, rule sets from
``tests.eligibility.factories``.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import ComputePlatform, District, Enterprise, Membership, User
from audit.services import Actor
from programs.models import Program
from tests.accounts.factories import EnterpriseFactory, UserFactory
from vouchers.models import Voucher
from vouchers.services import voucher_issue

SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR = datetime.timedelta(days=365)


# people
#
# Officials and enterprise members of the program, application and voucher
# tests: they read their e-mails in English.


def member(enterprise: Enterprise, **kwargs: Any) -> User:
    """An administrator of ``enterprise``."""
    user = UserFactory(**{"preferred_language": "en", **kwargs})
    Membership.objects.create(
        user=user, role=Membership.Role.ENTERPRISE_ADMIN, enterprise=enterprise
    )
    return user


def official(district: District, *roles: str, **kwargs: Any) -> User:
    """An official of ``district`` with ``roles`` (a reviewer if none)."""
    user = UserFactory(**{"preferred_language": "en", **kwargs})
    for role in roles or (Membership.Role.REVIEWER,):
        Membership.objects.create(user=user, role=role, district=district)
    return user


def with_mfa(user: User) -> User:
    """Officials need TOTP before the admin lets them in."""
    from allauth.mfa.models import Authenticator

    Authenticator.objects.get_or_create(
        user=user, type=Authenticator.Type.TOTP, defaults={"data": {"secret": "JBSWY3DPEHPK3PXP"}}
    )
    return user


BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def client_for(user: User) -> Any:
    """A test client signed in as ``user`` (through allauth's backend)."""
    from django.test import Client

    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def reauthenticated(client: Any, user: User) -> Any:
    """Record in ``client``'s session that ``user`` just re-entered a credential,
    as allauth's re-authentication page does (needed to change budgets and rates)."""
    import time

    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY,
        AUTHENTICATION_METHODS_SESSION_KEY,
    )
    from allauth.account.internal.userkit import user_id_to_str

    session = client.session
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = user_id_to_str(user)
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time(), "reauthenticated": True}
    ]
    session.save()
    return client


# vouchers

SYSTEM = Actor.system("tests")


def platform_actor(platform: ComputePlatform) -> Actor:
    return Actor.platform_key(
        f"key-{platform.slug}",
        evidence={"signature_input": "sig1=(...)", "signature": "sig1=:AAAA:", "key_id": "k"},
    )


def issue(
    program: Program,
    enterprise: Enterprise | None = None,
    amount: str | Decimal = "1000.00",
    *,
    valid_from: datetime.datetime | None = None,
) -> Voucher:
    return voucher_issue(
        actor=SYSTEM,
        program=program,
        enterprise=enterprise or EnterpriseFactory(),
        amount=Decimal(amount),
        from_reservation=False,
        valid_from=valid_from,
    )


@contextlib.contextmanager
def frozen(at: datetime.datetime) -> Iterator[None]:
    """Patch the clock (the one boundary these tests patch)."""
    with mock.patch.object(timezone, "now", return_value=at):
        yield


def shanghai(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]
