"""Admin of platform keys and the model catalog.

Superusers register keys and catalog rows; every write goes through
:mod:`platforms.services` (validated, audited). Keys are never edited or
deleted, only revoked, so past signatures stay verifiable; catalog rows are
never edited either, a change is a new row.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.admin_mixins import AuditedModelAdmin
from audit.services import Actor, client_ip
from common.errors import BusinessError

from . import services
from .keys import load_ed25519_public_key
from .models import ModelCatalogEntry, PlatformKey


class PlatformKeyForm(forms.ModelForm):
    class Meta:
        model = PlatformKey
        fields = ["platform", "label", "public_key_pem"]
        widgets = {"public_key_pem": forms.Textarea(attrs={"rows": 5, "cols": 70})}

    def clean_public_key_pem(self) -> str:
        pem = self.cleaned_data["public_key_pem"]
        try:
            load_ed25519_public_key(pem)
        except BusinessError as exc:
            raise forms.ValidationError(str(exc.message)) from exc
        return pem


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, source_ip=client_ip(request))


@admin.register(PlatformKey)
class PlatformKeyAdmin(AuditedModelAdmin):
    form = PlatformKeyForm
    list_display = ["key_id", "platform", "label", "created_at", "revoked_at"]
    list_filter = ["platform", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["key_id", "label", "platform__slug", "platform__name"]
    readonly_fields = ["key_id", "fingerprint", "created_at", "revoked_at"]
    actions = ["revoke_keys"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return ["platform", "label", "public_key_pem", *self.readonly_fields]
        return self.readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and obj is None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PlatformKey, form: Any, change: bool) -> None:
        if change:
            return
        key = services.platform_key_register(
            actor=_actor(request),
            platform=form.cleaned_data["platform"],
            public_key_pem=form.cleaned_data["public_key_pem"],
            label=form.cleaned_data.get("label", ""),
        )
        obj.pk = key.pk
        obj.key_id = key.key_id
        obj.public_key_pem = key.public_key_pem
        obj.created_at = key.created_at
        messages.info(request, _("Key id to give to the platform: %s") % key.key_id)

    @admin.action(description=_("Revoke the selected keys"))
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[PlatformKey]) -> None:
        if not request.user.is_superuser:
            self.message_user(request, _("Only superusers revoke keys."), messages.ERROR)
            return
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.platform_key_revoke(actor=_actor(request), key=key)
            revoked += 1
        self.message_user(request, _("%d key(s) revoked.") % revoked, messages.SUCCESS)


#: Dates a catalog row can start from.
CATALOG_DATE_LIMITS = [
    MinValueValidator(datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)),
    MaxValueValidator(datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)),
]


class CatalogEntryForm(forms.ModelForm):
    class Meta:
        model = ModelCatalogEntry
        fields = [
            "platform",
            "model_id",
            "display_name",
            "price_input_per_1k",
            "price_output_per_1k",
            "points_input_per_1k",
            "points_output_per_1k",
            "valid_from",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A date near year 1 or 9999 cannot be stored once moved to UTC.
        # (The field is absent where it is read-only, e.g. for an auditor.)
        if "valid_from" in self.fields:
            self.fields["valid_from"].validators += CATALOG_DATE_LIMITS


@admin.register(ModelCatalogEntry)
class ModelCatalogEntryAdmin(AuditedModelAdmin):
    form = CatalogEntryForm
    list_display = [
        "model_id",
        "display_name",
        "platform",
        "price_input_per_1k",
        "price_output_per_1k",
        "points_input_per_1k",
        "points_output_per_1k",
        "valid_from",
    ]
    list_filter = ["platform"]
    search_fields = ["model_id", "display_name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return CatalogEntryForm.Meta.fields
        return []

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and obj is None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: ModelCatalogEntry, form: Any, change: bool
    ) -> None:
        if change:
            return
        data = form.cleaned_data
        try:
            entry = services.catalog_entry_create(
                actor=_actor(request),
                platform=data["platform"],
                model_id=data["model_id"],
                display_name=data["display_name"],
                price_input_per_1k=data["price_input_per_1k"],
                price_output_per_1k=data["price_output_per_1k"],
                points_input_per_1k=data["points_input_per_1k"],
                points_output_per_1k=data["points_output_per_1k"],
                valid_from=data["valid_from"],
            )
        except BusinessError as exc:
            messages.error(request, str(exc.message))
            return
        obj.pk = entry.pk
