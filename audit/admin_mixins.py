"""Auditing edits made through the admin.

:class:`AuditedModelAdmin` records an :class:`~audit.models.AuditEvent` with
the before and after values of the fields for every add, change and delete
done in the admin, inline rows included, inside the transaction of the
write (the admin's add, change and delete views run in one transaction; the
bulk delete action is wrapped here). Its change pages link to the object's
audit timeline.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import uuid
from typing import Any

from django.db import models, router, transaction
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.forms import BaseModelForm
from django.forms.models import BaseInlineFormSet, BaseModelFormSet
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse

from accounts.admin_scoping import ScopedModelAdmin
from accounts.models import ComputePlatform, District, Enterprise

from . import events
from .object_types import object_type_of
from .services import Actor, audit_record, client_ip

HIDDEN = "[hidden]"


def _json_value(value: Any) -> Any:
    """A field value as JSON: text for decimals, times and files."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value else None
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(v) for v in value]
    return str(value)


def snapshot(obj: models.Model, *, masked: tuple[str, ...] = ()) -> dict[str, Any]:
    """The stored values of ``obj``'s fields (foreign keys as ids, many-to-many
    as sorted id lists), read from the database; {} when it is not stored."""
    if obj.pk is None:
        return {}
    model = type(obj)
    fresh = model._base_manager.filter(pk=obj.pk).first()
    if fresh is None:
        return {}
    values: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        values[f.name] = _json_value(getattr(fresh, f.attname))
    for m2m in model._meta.many_to_many:
        values[m2m.name] = sorted(getattr(fresh, m2m.name).values_list("pk", flat=True))
    for name in masked:
        if name in values:
            values[name] = HIDDEN
    return values


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields whose values differ, as (before, after) dicts."""
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return {k: before.get(k) for k in changed}, {k: after.get(k) for k in changed}


def organisations_of(obj: models.Model) -> dict[str, int | None]:
    """The district, enterprise and platform an object belongs to, for scoping its events."""
    orgs: dict[str, int | None] = {
        "district_id": getattr(obj, "district_id", None),
        "enterprise_id": getattr(obj, "enterprise_id", None),
        "platform_id": getattr(obj, "platform_id", None),
    }
    program = getattr(obj, "program", None)
    if orgs["district_id"] is None and program is not None:
        # Applications, vouchers and phase steps belong to their program's district.
        orgs["district_id"] = getattr(program, "district_id", None)
    if isinstance(obj, District):
        orgs["district_id"] = obj.pk
    elif isinstance(obj, Enterprise):
        orgs["enterprise_id"] = obj.pk
    elif isinstance(obj, ComputePlatform):
        orgs["platform_id"] = obj.pk
    return {k: v if isinstance(v, int) else None for k, v in orgs.items()}


def timeline_url(obj: models.Model) -> str:
    """The admin URL of ``obj``'s audit timeline."""
    app_label, model_name = object_type_of(obj).split(".", 1)
    return reverse("admin:audit_auditevent_timeline", args=[app_label, model_name, str(obj.pk)])


class AuditedModelAdmin(ScopedModelAdmin):
    """A scoped ModelAdmin whose every write is recorded in the audit log.

    A subclass that needs its own change form template should extend
    ``admin/audit/change_form.html`` so the timeline link stays.
    """

    change_form_template = "admin/audit/change_form.html"
    #: Fields whose values never enter the log (only that they changed).
    audit_masked_fields: tuple[str, ...] = ("password",)

    # --- Hooks a subclass may override -----------------------------------

    def audit_organisations(self, obj: models.Model) -> dict[str, int | None]:
        """District, enterprise and platform ids to file the event under."""
        return organisations_of(obj)

    # --- Recording -------------------------------------------------------

    def _masked_for(self, obj: models.Model) -> tuple[str, ...]:
        return self.audit_masked_fields

    def _record(
        self,
        request: HttpRequest,
        *,
        event_type: str,
        obj: models.Model,
        before: dict[str, Any],
        after: dict[str, Any],
        orgs: dict[str, int | None],
        object_id: str = "",
        object_repr: str = "",
    ) -> None:
        if event_type == events.ADMIN_CHANGE:
            before, after = diff(before, after)
        audit_record(
            actor=Actor.for_user(request.user, source_ip=client_ip(request)),
            event_type=event_type,
            obj=obj if event_type != events.ADMIN_DELETE else None,
            object_type=object_type_of(obj),
            object_id=object_id,
            object_repr=object_repr,
            before=before or None,
            after=after or None,
            district_id=orgs.get("district_id"),
            enterprise_id=orgs.get("enterprise_id"),
            platform_id=orgs.get("platform_id"),
        )

    def _record_delete(self, request: HttpRequest, obj: models.Model) -> tuple[Any, ...]:
        """Capture what a deletion needs to be recorded after the row is gone."""
        return (
            obj,
            snapshot(obj, masked=self._masked_for(obj)),
            self.audit_organisations(obj),
            str(obj.pk),
            str(obj),
        )

    def _record_deleted(self, request: HttpRequest, captured: tuple[Any, ...]) -> None:
        obj, before, orgs, pk, text = captured
        self._record(
            request,
            event_type=events.ADMIN_DELETE,
            obj=obj,
            before=before,
            after={},
            orgs=orgs,
            object_id=pk,
            object_repr=text,
        )

    # --- ModelAdmin's write methods ---------------------------------------

    def save_model(self, request: HttpRequest, obj: Any, form: BaseModelForm, change: bool) -> None:
        obj._audit_before = snapshot(obj, masked=self._masked_for(obj)) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(
        self, request: HttpRequest, form: BaseModelForm, formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        # After the many-to-many fields and inlines are saved, so "after" is complete.
        self._record(
            request,
            event_type=events.ADMIN_CHANGE if change else events.ADMIN_ADD,
            obj=obj,
            before=getattr(obj, "_audit_before", {}),
            after=snapshot(obj, masked=self._masked_for(obj)),
            orgs=self.audit_organisations(obj),
        )

    def save_formset(
        self,
        request: HttpRequest,
        form: BaseModelForm,
        formset: BaseModelFormSet | BaseInlineFormSet,
        change: bool,
    ) -> None:
        # Keyed by the instance itself: a deleted row's instance has lost its pk
        # by the time the formset reports it.
        befores = {
            id(f.instance): self._record_delete(request, f.instance)
            for f in formset.initial_forms
            if f.instance.pk is not None
        }
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            self._record(
                request,
                event_type=events.ADMIN_ADD,
                obj=obj,
                before={},
                after=snapshot(obj, masked=self._masked_for(obj)),
                orgs=self.audit_organisations(obj),
            )
        for obj, _changed in formset.changed_objects:
            self._record(
                request,
                event_type=events.ADMIN_CHANGE,
                obj=obj,
                before=befores[id(obj)][1] if id(obj) in befores else {},
                after=snapshot(obj, masked=self._masked_for(obj)),
                orgs=self.audit_organisations(obj),
            )
        for obj in formset.deleted_objects:
            if id(obj) in befores:
                self._record_deleted(request, befores[id(obj)])

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        captured = self._record_delete(request, obj)
        super().delete_model(request, obj)
        self._record_deleted(request, captured)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # The bulk delete action runs outside the admin's per-view
        # transaction; the deletions and their events commit together.
        with transaction.atomic(using=router.db_for_write(self.model)):
            captured = [self._record_delete(request, obj) for obj in queryset]
            super().delete_queryset(request, queryset)
            for item in captured:
                self._record_deleted(request, item)

    # --- The timeline link -------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        if request.user.has_perm("audit.view_auditevent"):
            app_label, model_name = object_type_of(self.model).split(".", 1)
            # An id no URL can hold ("12/decide") names no object: no link,
            # and the admin answers that the object does not exist.
            with contextlib.suppress(NoReverseMatch):
                extra_context["audit_timeline_url"] = reverse(
                    "admin:audit_auditevent_timeline", args=[app_label, model_name, object_id]
                )
        return super().change_view(request, object_id, form_url, extra_context)
