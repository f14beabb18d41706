"""What each role may do, as Django model permissions.

Each app grants its own permissions to roles in its ``AppConfig.ready()``
(``grant(Role.REVIEWER, "applications.view_application", ...)``), so this module
needs to import none of them. :class:`accounts.backends.RoleBackend` answers
``user.has_perm`` from this table; which *rows* a permission applies to is
decided by :func:`accounts.scoping.scoped`.
"""

from __future__ import annotations

from collections import defaultdict

from .models import Membership

Role = Membership.Role

_ROLE_PERMISSIONS: dict[str, set[str]] = defaultdict(set)


def grant(role: str, *perms: str) -> None:
    """Give ``role`` the permissions ``perms`` ("app_label.codename")."""
    _ROLE_PERMISSIONS[role].update(perms)


def view_perms(app_label: str, *models: str) -> list[str]:
    return [f"{app_label}.view_{m}" for m in models]


def crud_perms(app_label: str, *models: str) -> list[str]:
    return [
        f"{app_label}.{action}_{m}"
        for m in models
        for action in ("view", "add", "change", "delete")
    ]


def permissions_for_roles(roles: set[str]) -> set[str]:
    """Union of the permissions of ``roles``."""
    perms: set[str] = set()
    for role in roles:
        perms |= _ROLE_PERMISSIONS.get(role, set())
    return perms


OFFICIAL = Membership.OFFICIAL_ROLES

# The organisation models themselves: officials read them; platforms and
# districts are onboarded by the platform's superusers.
for _role in OFFICIAL:
    grant(
        _role,
        *view_perms("accounts", "district", "enterprise", "computeplatform", "membership", "user"),
    )
grant(Role.PROGRAM_MANAGER, "accounts.change_enterprise")
