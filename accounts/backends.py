"""Authentication backend that grants model permissions from membership roles."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend

from .roles import permissions_for_roles
from .scoping import scope_for


class RoleBackend(BaseBackend):
    """Answers ``has_perm`` from the roles a user holds; authenticates no one."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous:
            return set()
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

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return any(p.startswith(f"{app_label}.") for p in self.get_all_permissions(user_obj))
