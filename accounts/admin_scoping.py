"""The admin's side of tenancy: every ModelAdmin of the project derives from
:class:`ScopedModelAdmin`, and every inline from :class:`ScopedInline`.

- Lists, change forms and the choices of related fields show only the rows
  of the user's organisations (:func:`accounts.scoping.scoped`).
- Every object-level check asks for the role in the object's own district
  (``user.has_perm(perm, obj)``, see :mod:`accounts.scoping`): a program
  manager of Wuhan who is only an auditor of Jianghan changes Wuhan's
  programs and reads Jianghan's.
- A form offers only the districts (and programs, rule sets, …) where the
  user holds the role the form needs, and the saved object is checked again
  in the district it ends up in, inlines included.
- Admin actions run only when the user may act on every selected row; rows
  the user may only read carry no action checkbox.
- Sidebar filters on relations list only what the user's rows refer to.
- A model with work in the officials' work queue gets its "Waiting for you"
  filter first (:mod:`common.work_queue`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.auth import get_permission_codename
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import ForeignKey, ManyToManyField, Model, QuerySet
from django.forms import BaseModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from common.work_queue import WaitingFilter, kinds_of

from .models import District, Enterprise
from .scoping import district_path, scoped, scoped_for_perms

#: The request whose change list is being rendered (for the per-row checkbox).
_CHANGELIST_REQUEST: ContextVar[HttpRequest | None] = ContextVar("changelist_request", default=None)


def perm_name(model: type[Model], action: str) -> str:
    """ "app_label.<action>_<model>", the permission ``action`` on ``model``."""
    opts = model._meta
    return f"{opts.app_label}.{get_permission_codename(action, opts)}"


def is_district_owned(model: type[Model]) -> bool:
    """True when each row of ``model`` belongs to one district."""
    return model is Enterprise or model is District or district_path(model) is not None


def choices_for(queryset: QuerySet[Any], user: Any, perms: tuple[str, ...]) -> QuerySet[Any]:
    """The rows of ``queryset`` a form may offer ``user``: those they see
    through the districts where they hold a role granting one of ``perms``."""
    return scoped_for_perms(queryset, user, *perms)


class ScopedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin that shows each user only the rows of their organisations
    and lets them change a row only with the role in the row's district."""

    # --- Rows -------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scoped(super().get_queryset(request), request.user)

    # --- Object permissions, in the object's own district --------------------

    def _perm(self, action: str) -> str:
        return perm_name(self.model, action)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return super().has_view_permission(request)
        user = request.user
        return bool(
            user.has_perm(self._perm("view"), obj) or user.has_perm(self._perm("change"), obj)
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return super().has_change_permission(request)
        return bool(request.user.has_perm(self._perm("change"), obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return super().has_delete_permission(request)
        return bool(request.user.has_perm(self._perm("delete"), obj))

    def write_perms(self) -> tuple[str, ...]:
        """What a form of this admin does: add or change its model."""
        return (self._perm("add"), self._perm("change"))

    # --- Form choices: only what the user holds the role for ---------------

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> Any:
        related = db_field.remote_field.model
        base = kwargs.get("queryset")
        if base is None:
            base = related._default_manager.all()
        kwargs["queryset"] = choices_for(base, request.user, self.write_perms())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> Any:
        related = db_field.remote_field.model
        base = kwargs.get("queryset")
        if base is None:
            base = related._default_manager.all()
        kwargs["queryset"] = choices_for(base, request.user, self.write_perms())
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    # --- Saving: checked again where the object ends up ---------------------

    def save_model(self, request: HttpRequest, obj: Any, form: BaseModelForm, change: bool) -> None:
        # The form offered only permitted choices; this holds whatever the
        # form (or a subclass) did: the object's district as it will be saved.
        if not request.user.has_perm(self._perm("change" if change else "add"), obj):
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        model = formset.model
        for inline_form in formset.forms:
            if not inline_form.has_changed() and not formset._should_delete_form(inline_form):
                continue
            instance = inline_form.instance
            fk = getattr(formset, "fk", None)
            if fk is not None and formset.instance.pk is not None:
                # A row added with its parent was built before the parent had
                # an id; it belongs to the parent (as save_new will say).
                setattr(instance, fk.name, formset.instance)
            if formset._should_delete_form(inline_form):
                action = "delete"
            else:
                action = "change" if instance.pk is not None else "add"
            if not request.user.has_perm(perm_name(model, action), instance):
                raise PermissionDenied
        super().save_formset(request, form, formset, change)

    # --- Actions: on rows the user may act on, all or nothing ----------------

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request) or {}
        return {
            name: (self._guarded(func), action_name, description)
            for name, (func, action_name, description) in actions.items()
        }

    @staticmethod
    def _guarded(func: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(func, "tenancy_guarded", False):
            return func
        required = tuple(getattr(func, "allowed_permissions", None) or ())

        def may(modeladmin: Any, request: HttpRequest, obj: Any) -> bool:
            if required:
                return all(
                    getattr(modeladmin, f"has_{p}_permission")(request, obj) for p in required
                )
            # An action that declares no permissions changes its rows: the
            # role in each row's district must grant changing it.
            return bool(request.user.has_perm(perm_name(modeladmin.model, "change"), obj))

        @functools.wraps(func)
        def guarded(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
            refused = [obj for obj in queryset if not may(modeladmin, request, obj)]
            if refused:
                modeladmin.message_user(
                    request,
                    # Why is each row's own check's business (the role in its
                    # district, or a rule such as "a published version is never
                    # deleted"); this says only that nothing was done and where.
                    gettext("Nothing was done: this is not allowed for %(rows)s.")
                    % {"rows": ", ".join(str(obj) for obj in refused[:5])},
                    messages.ERROR,
                )
                return None
            return func(modeladmin, request, queryset)

        guarded.tenancy_guarded = True  # type: ignore[attr-defined]
        return guarded

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        token = _CHANGELIST_REQUEST.set(request)
        try:
            response = super().changelist_view(request, extra_context)
            if isinstance(response, TemplateResponse):
                # Rendered here, while the rows' checkboxes can ask about the request.
                response.render()
            return response
        finally:
            _CHANGELIST_REQUEST.reset(token)

    def action_checkbox(self, obj: Any) -> Any:
        request = _CHANGELIST_REQUEST.get()
        if request is not None and not (
            self.has_change_permission(request, obj) or self.has_delete_permission(request, obj)
        ):
            # Read-only here: nothing to select.
            return ""
        return super().action_checkbox(obj)

    # --- Sidebar filters: only what the user's rows refer to ------------------

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters: list[Any] = [WaitingFilter] if kinds_of(self.model) else []
        for item in super().get_list_filter(request):
            if isinstance(item, str) and self._is_relation(item):
                filters.append((item, admin.RelatedOnlyFieldListFilter))
            elif (
                isinstance(item, tuple)
                and len(item) == 2
                and item[1] is admin.RelatedFieldListFilter
            ):
                filters.append((item[0], admin.RelatedOnlyFieldListFilter))
            else:
                filters.append(item)
        return filters

    def _is_relation(self, path: str) -> bool:
        try:
            fields = get_fields_from_path(self.model, path)
        except (FieldDoesNotExist, NotRelationField):
            return False
        return bool(fields) and bool(getattr(fields[-1], "is_relation", False))


class ScopedInline(admin.options.InlineModelAdmin):
    """An inline whose rows are changed only with the role in the parent's
    district (the rows belong to it: a program's phase-down steps)."""

    def _perm(self, action: str) -> str:
        return perm_name(self.model, action)

    def _allowed(self, request: HttpRequest, action: str, obj: Any) -> bool:
        return obj is None or bool(request.user.has_perm(self._perm(action), obj))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._allowed(request, "add", obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._allowed(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._allowed(request, "delete", obj)


class ReadOnlyForNonSuperusers:
    """Mixin: only superusers add, change or delete (officials may look)."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


def refuse_unless(allowed: bool) -> None:
    """Raise PermissionDenied (403) unless ``allowed``: for custom admin views."""
    if not allowed:
        raise PermissionDenied(gettext("Your role in this district does not allow this."))
