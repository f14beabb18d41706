"""Who sees what: the one place where organisation scoping is applied.

An official sees only their districts' data, an enterprise member only their
enterprise's, a platform operator only their platform's. Each scoped model
declares how its rows relate to those organisations with a ``scope_q(scope)``
class method; :func:`scoped` applies it. A model without ``scope_q`` shows
nothing to anyone but a superuser, so a new model is closed until it says
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from .models import Membership

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Scope:
    """The organisations a user belongs to, by kind and role."""

    user_id: int | None
    is_superuser: bool
    district_roles: dict[int, frozenset[str]]
    district_prefixes: tuple[str, ...]
    enterprise_roles: dict[int, frozenset[str]]
    platform_ids: frozenset[int]

    @property
    def district_ids(self) -> frozenset[int]:
        return frozenset(self.district_roles)

    @property
    def enterprise_ids(self) -> frozenset[int]:
        return frozenset(self.enterprise_roles)

    @property
    def admin_enterprise_ids(self) -> frozenset[int]:
        return frozenset(
            pk
            for pk, roles in self.enterprise_roles.items()
            if Membership.Role.ENTERPRISE_ADMIN in roles
        )

    def districts_with_role(self, *roles: str) -> frozenset[int]:
        """District ids where the user holds any of ``roles``."""
        return frozenset(pk for pk, held in self.district_roles.items() if held & set(roles))

    def has_district_role(self, district_id: int, *roles: str) -> bool:
        return self.is_superuser or bool(
            self.district_roles.get(district_id, frozenset()) & set(roles)
        )


EMPTY_SCOPE = Scope(
    user_id=None,
    is_superuser=False,
    district_roles={},
    district_prefixes=(),
    enterprise_roles={},
    platform_ids=frozenset(),
)


def scope_for(user: Any) -> Scope:
    """Return the user's scope, computed once per user object."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return EMPTY_SCOPE
    cached = getattr(user, "_scope_cache", None)
    if cached is not None:
        return cached
    district_roles: dict[int, set[str]] = {}
    prefixes: list[str] = []
    enterprise_roles: dict[int, set[str]] = {}
    platform_ids: set[int] = set()
    for m in Membership.objects.filter(user=user).select_related("district"):
        if m.district_id is not None and m.district is not None:
            district_roles.setdefault(m.district_id, set()).add(m.role)
            prefixes.append(m.district.division_prefix)
        elif m.enterprise_id is not None:
            enterprise_roles.setdefault(m.enterprise_id, set()).add(m.role)
        elif m.platform_id is not None:
            platform_ids.add(m.platform_id)
    scope = Scope(
        user_id=user.pk,
        is_superuser=bool(user.is_superuser),
        district_roles={k: frozenset(v) for k, v in district_roles.items()},
        district_prefixes=tuple(sorted(set(prefixes))),
        enterprise_roles={k: frozenset(v) for k, v in enterprise_roles.items()},
        platform_ids=frozenset(platform_ids),
    )
    user._scope_cache = scope
    return scope


def scoped(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """Restrict ``queryset`` to the rows ``user`` may see."""
    scope = scope_for(user)
    if scope.is_superuser:
        return queryset
    if scope.user_id is None:
        return queryset.none()
    scope_q = getattr(queryset.model, "scope_q", None)
    if scope_q is None:
        return queryset.none()
    return queryset.filter(scope_q(scope))
