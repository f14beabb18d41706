"""Authentication backend that grants model permissions from membership roles."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend

from .roles import permissions_for_roles
from .scoping import has_object_perm, scope_for


class RoleBackend(BaseBackend):
    """Answers ``has_perm`` from the roles a user holds; authenticates no one.

    Without an object, ``user.has_perm(perm)`` says whether some role the
    user holds, in some district, grants ``perm`` (enough to show a menu
    entry). With an object, ``user.has_perm(perm, obj)`` asks for the role in
    the object's own district (:func:`accounts.scoping.has_object_perm`): a
    role held in one district grants nothing in another.
    """

    def _pooled(self, user_obj: Any) -> set[str]:
        cached = getattr(user_obj, "_role_perm_cache", None)
        if cached is None:
            scope = scope_for(user_obj)
            roles: set[str] = set()
            for held in scope.district_roles.values():
                roles |= held
            for held in scope.enterprise_roles.values():
                roles |= held
            if scope.platform_ids:
                roles.add("platform_operator")
            cached = permissions_for_roles(roles)
            user_obj._role_perm_cache = cached
        return cached

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous:
            return set()
        pooled = self._pooled(user_obj)
        if obj is None:
            return pooled
        return {perm for perm in pooled if has_object_perm(user_obj, perm, obj)}

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if not user_obj.is_active or user_obj.is_anonymous:
            return False
        if perm not in self._pooled(user_obj):
            return False
        return obj is None or has_object_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return any(p.startswith(f"{app_label}.") for p in self.get_all_permissions(user_obj))
