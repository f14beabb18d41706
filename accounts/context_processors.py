"""Template context: the signed-in user's organisations, for the navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .scoping import scope_for


def membership(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    scope = scope_for(user)
    return {
        "nav_scope": scope,
        "nav_is_enterprise": bool(scope.enterprise_roles),
        "nav_is_platform": bool(scope.platform_ids),
    }
