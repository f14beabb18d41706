"""Helpers for the audit tests: officials and superusers who may open the
admin, and clients signed in as them. Districts, enterprises, platforms and
users come from ``tests.accounts.factories``."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator

from accounts.models import District, Membership, User
from tests.accounts.factories import UserFactory


def official(district: District, role: str = Membership.Role.AUDITOR, **kwargs: Any) -> User:
    """A district official with a TOTP authenticator (the admin requires one)."""
    user = UserFactory(**{"preferred_language": "en", **kwargs})
    Membership.objects.create(user=user, role=role, district=district)
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "X"})
    return user


def superuser(**kwargs: Any) -> User:
    user = UserFactory(**{"preferred_language": "en", "is_superuser": True, **kwargs})
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "X"})
    return user


def admin_client(user: User, **defaults: Any) -> Any:
    """A test client signed in as ``user`` (through allauth's backend)."""
    from django.test import Client

    client = Client(**defaults)
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    return client
