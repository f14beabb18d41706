"""Admin for people and organisations, scoped to the official's districts.

The classes are registered by ``audit/admin_accounts.py``, which wraps each
in the audit log's ``AuditedModelAdmin`` so every edit is recorded; this app
imports none of the others, so it cannot do that itself.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .admin_scoping import ReadOnlyForNonSuperusers, ScopedInline, ScopedModelAdmin
from .duties import duties_conflict
from .forms import USCCField
from .models import Membership


class PastedUSCCMixin:
    """USCC inputs that take a code as pasted (spaces, lower case) and save
    it normalised, as on the enterprise's own pages."""

    uscc_fields: tuple[str, ...] = ()

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in self.uscc_fields:
            return USCCField(
                label=db_field.verbose_name,
                required=not db_field.blank,
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]


class MembershipInline(ScopedInline, admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["role", "district", "enterprise", "platform"]
    autocomplete_fields = ["district", "enterprise", "platform"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


class UserAdmin(ReadOnlyForNonSuperusers, ScopedModelAdmin):
    list_display = ["email", "full_name", "is_active", "is_superuser", "date_joined"]
    list_filter = ["is_active", "is_superuser"]
    search_fields = ["email", "full_name"]
    ordering = ["email"]
    fields = [
        "email",
        "full_name",
        "preferred_language",
        "is_active",
        "is_superuser",
        "date_joined",
        "last_login",
    ]
    readonly_fields = ["date_joined", "last_login"]
    inlines = [MembershipInline]


class DistrictAdmin(ReadOnlyForNonSuperusers, ScopedModelAdmin):
    list_display = ["code", "name", "name_en", "parent"]
    search_fields = ["code", "name", "name_en"]
    ordering = ["code"]


class EnterpriseAdmin(PastedUSCCMixin, ScopedModelAdmin):
    uscc_fields = ("uscc",)
    list_display = [
        "name",
        "uscc",
        "division_code",
        "industry",
        "headcount",
        "prior_year_revenue",
        "is_one_person_company",
        "status",
    ]
    list_filter = ["status", "industry", "is_one_person_company"]
    search_fields = ["name", "uscc", "legal_representative"]
    readonly_fields = ["division_code", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "uscc", "division_code", "status"]}),
        (
            _("Size and finances"),
            {
                "fields": [
                    "industry",
                    "founded_on",
                    "headcount",
                    "prior_year_revenue",
                    "local_tax_paid",
                    "is_one_person_company",
                ]
            },
        ),
        (
            _("Contact"),
            {
                "fields": [
                    "legal_representative",
                    "legal_representative_id_number",
                    "contact_name",
                    "contact_phone",
                    "contact_email",
                    "address",
                ]
            },
        ),
        (None, {"fields": ["created_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The code is the enterprise's identity and decides its district:
        # an official may not move an enterprise into another district.
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly.append("uscc")
        return readonly

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Staff never change (verify, suspend) an enterprise they are a member of.
        if obj is not None and duties_conflict(user=request.user, enterprise_id=obj.pk):
            return False
        return super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Enterprises register themselves on the site (USCC checked there).
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


class ComputePlatformAdmin(PastedUSCCMixin, ReadOnlyForNonSuperusers, ScopedModelAdmin):
    uscc_fields = ("operator_uscc",)
    list_display = ["name", "slug", "operator", "on_national_list", "status"]
    list_filter = ["status", "on_national_list"]
    search_fields = ["name", "name_en", "slug", "operator"]
    prepopulated_fields = {"slug": ["name_en"]}
    filter_horizontal = ["districts_served"]


class MembershipAdmin(ReadOnlyForNonSuperusers, ScopedModelAdmin):
    list_display = ["user", "role", "district", "enterprise", "platform", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email"]
    autocomplete_fields = ["user", "district", "enterprise", "platform"]
