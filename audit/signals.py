"""Sign-ins and failed sign-ins, recorded from Django's auth signals.

This is the one place signals are used: logins happen inside Django and
allauth, not in a service of ours, and the audit log must see every one.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from accounts.models import Membership

from . import events
from .services import Actor, audit_record, client_ip


def _official_district(user: Any) -> int | None:
    return (
        Membership.objects.filter(user=user, role__in=Membership.OFFICIAL_ROLES)
        .values_list("district_id", flat=True)
        .first()
    )


@receiver(user_logged_in, dispatch_uid="audit_user_logged_in")
def record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    ip = client_ip(request) if request is not None else None
    audit_record(
        actor=Actor.for_user(user, source_ip=ip),
        event_type=events.USER_LOGGED_IN,
        obj=user,
        district_id=_official_district(user),
    )


@receiver(user_login_failed, dispatch_uid="audit_user_login_failed")
def record_failed_login(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    email = str(credentials.get("email") or credentials.get("username") or "")[:200]
    ip = client_ip(request) if request is not None else None
    user = get_user_model().objects.filter(email__iexact=email).first() if email else None
    audit_record(
        actor=Actor(kind="anonymous", label=email or "anonymous", source_ip=ip),
        event_type=events.USER_LOGIN_FAILED,
        obj=user,
        object_type="accounts.user",
        object_id=email,
        district_id=_official_district(user) if user else None,
    )
