"""Separation of duties: staff of a district never act on an enterprise they
are a member of.

One rule, one function. Every door asks it: registering or joining an
enterprise, applying for it, and every official's action on it (review,
approval, issuance, bulk issuance, suspension, revocation, clawback,
decisions on anomaly flags, edits of the enterprise in the admin). The
pages ask it to offer only what is allowed; the services ask it again and
refuse with its reason.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from .models import Membership
from .scoping import scope_for


def duties_conflict(
    *, user: Any, enterprise_id: int | None = None, becoming: str | None = None
) -> str | None:
    """Why ``user`` may not act on the enterprise ``enterprise_id`` — or take
    the role ``becoming`` — because a person who is staff of a district
    (or a superuser) and a member of the enterprise would then be on both
    sides; None when nothing conflicts.

    - ``enterprise_id`` given: the user would act on (or for) that
      enterprise; refused when they are staff and a member of it.
    - ``becoming`` an enterprise role: the user would join or register an
      enterprise; refused when they are staff of any district.
    - ``becoming`` an official role: the user would become staff; refused
      when they are a member of any enterprise.
    """
    scope = scope_for(user)
    if scope.user_id is None and not getattr(user, "pk", None):
        return None
    if scope.user_id is None:
        # An inactive or unsaved user object: ask the memberships directly.
        roles = set(Membership.objects.filter(user=user).values_list("role", flat=True))
        staff = bool(getattr(user, "is_superuser", False)) or bool(
            roles & set(Membership.OFFICIAL_ROLES)
        )
        enterprises = set(
            Membership.objects.filter(user=user, enterprise__isnull=False).values_list(
                "enterprise_id", flat=True
            )
        )
    else:
        staff = scope.is_superuser or bool(scope.district_roles)
        enterprises = set(scope.enterprise_ids)
    if becoming in Membership.ENTERPRISE_ROLES:
        if staff:
            return _(
                "Staff of a district may not register or join an enterprise: use a separate "
                "account for the enterprise."
            )
        return None
    if becoming in Membership.OFFICIAL_ROLES:
        if enterprises:
            return _(
                "This person is a member of an enterprise: staff of a district may not be "
                "members of an enterprise."
            )
        return None
    if enterprise_id is not None and staff and enterprise_id in enterprises:
        return _(
            "You are a member of this enterprise: staff of a district never act on an "
            "enterprise they are a member of."
        )
    return None
