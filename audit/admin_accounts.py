"""The admin of people and organisations, audited.

``accounts`` imports none of the other apps, so its ModelAdmin classes stay
in ``accounts/admin.py`` unregistered, and are registered here combined
with :class:`AuditedModelAdmin`: every add, change and delete of a user,
district, enterprise, platform or membership in the admin is recorded.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models

from accounts import admin as accounts_admin
from accounts.models import ComputePlatform, District, Enterprise, Membership, User

from .admin_mixins import AuditedModelAdmin, organisations_of


class AuditedUserAdmin(AuditedModelAdmin, accounts_admin.UserAdmin):
    def audit_organisations(self, obj: models.Model) -> dict[str, int | None]:
        if isinstance(obj, User):
            # A user belongs to no organisation itself; file the event under
            # the district where they are an official, if any.
            district_id = (
                Membership.objects.filter(user=obj, role__in=Membership.OFFICIAL_ROLES)
                .values_list("district_id", flat=True)
                .first()
            )
            return {"district_id": district_id, "enterprise_id": None, "platform_id": None}
        return organisations_of(obj)


class AuditedDistrictAdmin(AuditedModelAdmin, accounts_admin.DistrictAdmin):
    pass


class AuditedEnterpriseAdmin(AuditedModelAdmin, accounts_admin.EnterpriseAdmin):
    pass


class AuditedComputePlatformAdmin(AuditedModelAdmin, accounts_admin.ComputePlatformAdmin):
    pass


class AuditedMembershipAdmin(AuditedModelAdmin, accounts_admin.MembershipAdmin):
    pass


REGISTRY: list[tuple[type[models.Model], type[Any]]] = [
    (User, AuditedUserAdmin),
    (District, AuditedDistrictAdmin),
    (Enterprise, AuditedEnterpriseAdmin),
    (ComputePlatform, AuditedComputePlatformAdmin),
    (Membership, AuditedMembershipAdmin),
]

for _model, _admin_class in REGISTRY:
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)
