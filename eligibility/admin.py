"""Admin for eligibility rule sets: a row editor (fact / operator / value),
JSON import and export, a preview of who would qualify, and versions.

A draft version is edited in place. A published version never changes:
saving its form (or importing into it) makes the next draft version with
the changes, which is published in turn; each program then adopts it
explicitly (on the program's page)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_scoping import ScopedInline
from accounts.models import Enterprise, Membership
from accounts.scoping import scope_for, scoped
from audit.admin_mixins import AuditedModelAdmin
from audit.services import Actor, client_ip
from common.errors import BusinessError

from .evaluator import OPERATORS, RuleError, check_condition, operator_choices
from .facts import FACTS, fact_choices
from .models import ROW_FIELDS, RuleNode, RuleSet, definition_to_rows, row_problems
from .rules_html import rules_in_words
from .selectors import rule_set_draft_of, rule_set_preview, rule_set_versions
from .services import (
    RULE_FIELDS,
    rule_set_import,
    rule_set_new_version,
    rule_set_publish,
    rule_set_record_created,
)


class RuleNodeForm(forms.ModelForm):
    """One row: a group, or a condition whose fact and operator are chosen from lists."""

    fact = forms.ChoiceField(label=_("fact"), required=False, choices=())
    operator = forms.ChoiceField(label=_("operator"), required=False, choices=())

    class Meta:
        model = RuleNode
        fields = ["path", "kind", "fact", "operator", "value"]
        widgets = {
            "path": forms.TextInput(attrs={"size": 6}),
            "value": forms.TextInput(attrs={"size": 28}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        blank = [("", "—")]
        fact_field: Any = self.fields["fact"]
        fact_field.choices = blank + fact_choices()
        operator_field: Any = self.fields["operator"]
        operator_field.choices = blank + operator_choices()

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("DELETE"):
            return data
        kind = data.get("kind")
        if kind == RuleNode.Kind.CONDITION:
            if not data.get("fact"):
                self.add_error("fact", gettext("Choose the fact this condition tests."))
            if not data.get("operator"):
                self.add_error("operator", gettext("Choose how the fact is compared."))
            if data.get("fact") and data.get("operator"):
                try:
                    check_condition(data["fact"], data["operator"], data.get("value", ""))
                except RuleError as exc:
                    self.add_error("value", str(exc))
        elif kind:
            for name in ("fact", "operator", "value"):
                if data.get(name):
                    self.add_error(
                        name, gettext("A group row has no fact, operator or value; leave it empty.")
                    )
        return data


class RuleNodeFormSet(forms.BaseInlineFormSet):
    """Checks the rows together: positions unique, parents are groups, no empty group."""

    def clean(self) -> None:
        super().clean()
        live = [
            form
            for form in self.forms
            if form.has_changed() or form.instance.pk
            if not (form.cleaned_data or {}).get("DELETE") and form.cleaned_data
        ]
        rows = [
            {
                "path": form.cleaned_data.get("path", ""),
                "kind": form.cleaned_data.get("kind", ""),
            }
            for form in live
        ]
        if not rows:
            raise ValidationError(gettext("A rule set needs at least one row."))
        for index, problems in row_problems(rows).items():
            for problem in problems:
                live[index].add_error("path", problem)


class RuleNodeInline(ScopedInline, admin.TabularInline):
    model = RuleNode
    form = RuleNodeForm
    formset = RuleNodeFormSet
    extra = 2
    fields = ["path", "kind", "fact", "operator", "value"]
    ordering = ["path"]


def _fact_rows() -> list[tuple[Any, str]]:
    """Each fact with the operators that apply to it, for the editor's help table."""
    return [
        (fact, " · ".join(str(op.label) for op in OPERATORS.values() if fact.type in op.types))
        for fact in FACTS.values()
    ]


class ImportForm(forms.Form):
    definition = forms.CharField(
        label=_("Rule tree (JSON)"),
        widget=forms.Textarea(attrs={"rows": 14, "cols": 90, "class": "vLargeTextField"}),
        help_text=_("Paste a rule tree exported from this or another rule set."),
    )

    def clean_definition(self) -> Any:
        try:
            value = json.loads(self.cleaned_data["definition"])
        except json.JSONDecodeError as exc:
            raise ValidationError(
                gettext("This is not valid JSON (line %(line)s, column %(col)s): %(msg)s")
                % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg}
            ) from None
        except RecursionError:
            raise ValidationError(gettext("The rule tree is nested too deeply.")) from None
        if not isinstance(value, dict):
            raise ValidationError(gettext("The rule tree must be a JSON object."))
        return value


class RuleSetForm(forms.ModelForm):
    """The rule set's texts and top level; on a published version, refused
    when the next version is already being edited (one draft at a time)."""

    class Meta:
        model = RuleSet
        fields = ["district", *RULE_FIELDS]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        instance = self.instance
        if instance.pk and instance.is_published():
            draft = rule_set_draft_of(rule_set=instance)
            if draft is not None:
                raise ValidationError(
                    gettext(
                        "%(draft)s is already being edited: make your changes there "
                        "(or delete that draft first)."
                    )
                    % {"draft": draft.version_label}
                )
        return data


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, source_ip=client_ip(request))


@admin.register(RuleSet)
class RuleSetAdmin(AuditedModelAdmin):
    form = RuleSetForm
    list_display = [
        "name",
        "version",
        "status",
        "name_en",
        "district",
        "rules_in_words",
        "in_use",
        "updated_at",
    ]
    list_filter = ["status", "district"]
    search_fields = ["name", "name_en"]
    fields = [
        "district",
        "name",
        "name_en",
        "description",
        "description_en",
        "status",
        "version_facts",
        "combinator",
        "rules_in_words",
    ]
    readonly_fields = ["status", "version_facts", "rules_in_words"]
    inlines = [RuleNodeInline]
    actions = ["publish"]
    change_form_template = "eligibility/admin/ruleset_change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[RuleSet]:
        return (
            super()
            .get_queryset(request)
            .select_related("district", "based_on", "published_by")
            .prefetch_related("nodes")
            .annotate(program_count=Count("programs"))
        )

    def get_readonly_fields(self, request: HttpRequest, obj: RuleSet | None = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk:
            # A version belongs to its district for good (its lineage too).
            fields.append("district")
        return fields

    # Only a program manager of the rule set's own district changes it; a
    # published version is never deleted (programs and applications name it).
    def _manages(self, request: HttpRequest, obj: RuleSet | None) -> bool:
        return obj is None or scope_for(request.user).has_district_role(
            obj.district_id, Membership.Role.PROGRAM_MANAGER
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._manages(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_published():
            return False
        return super().has_delete_permission(request, obj) and self._manages(request, obj)

    @admin.display(description=_("rules"))
    def rules_in_words(self, obj: RuleSet) -> Any:
        """The saved rules as nested sentences, as an official reads them."""
        if not obj.pk:
            return "—"
        return rules_in_words(obj)

    @admin.display(description=_("used by programs"))
    def in_use(self, obj: RuleSet) -> int:
        return getattr(obj, "program_count", 0)

    @admin.display(description=_("version"))
    def version_facts(self, obj: RuleSet) -> Any:
        """The version, what it was edited from, when it was published, the
        other versions and the programs that apply it."""
        if not obj.pk:
            return gettext("Version 1 (a draft until published).")
        lines = [
            gettext("Version %(version)s · %(status)s")
            % {"version": obj.version, "status": obj.get_status_display()}
        ]
        if obj.based_on_id:
            lines.append(
                gettext("Edited from version %(version)s.")
                % {"version": obj.based_on.version if obj.based_on else "?"}
            )
        if obj.published_at:
            lines.append(
                gettext("Published %(when)s by %(who)s.")
                % {
                    "when": f"{obj.published_at:%Y-%m-%d %H:%M}",
                    "who": obj.published_by or gettext("the system"),
                }
            )
        others = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:eligibility_ruleset_change", args=[v.pk]), v.version_label)
                for v in rule_set_versions(rule_set=obj).exclude(pk=obj.pk)
            ),
        )
        programs = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:programs_program_change", args=[p.pk]), p.display_name)
                for p in obj.programs.all()
            ),
        )
        return format_html(
            "{}<br>{} {}<br>{} {}",
            " ".join(lines),
            gettext("Other versions:"),
            others or "—",
            gettext("Programs applying this version:"),
            programs or "—",
        )

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", wrap(self.preview_view), name="eligibility_ruleset_preview"),
            path("<int:pk>/export/", wrap(self.export_view), name="eligibility_ruleset_export"),
            path("<int:pk>/import/", wrap(self.import_view), name="eligibility_ruleset_import"),
            path("<int:pk>/publish/", wrap(self.publish_view), name="eligibility_ruleset_publish"),
            *super().get_urls(),
        ]

    def _get(self, request: HttpRequest, pk: int) -> RuleSet:
        rule_set = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, rule_set):
            raise PermissionDenied
        return rule_set

    def _version_context(self, request: HttpRequest, rule_set: RuleSet | None) -> dict[str, Any]:
        if rule_set is None:
            return {}
        draft = rule_set_draft_of(rule_set=rule_set) if rule_set.is_published() else None
        latest = rule_set_versions(rule_set=rule_set).first()
        return {
            "rule_set_version": rule_set,
            "next_version": (latest.version if latest else rule_set.version) + 1,
            "draft_version": draft,
            "can_publish": not rule_set.is_published()
            and self.has_change_permission(request, rule_set),
        }

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        extra = {
            **(extra_context or {}),
            "fact_rows": _fact_rows(),
            **self._version_context(request, obj),
        }
        return super().change_view(request, object_id, form_url, extra)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "fact_rows": _fact_rows()}
        return super().add_view(request, form_url, extra)

    # --- Saving: a draft in place, a published version into the next draft ----

    def _stored_published(self, obj: RuleSet) -> bool:
        """Whether the stored row is published, read under a row lock (the
        admin's change view is one transaction), so a draft published
        meanwhile is never written to."""
        if not obj.pk:
            return False
        status = (
            RuleSet.objects.select_for_update()
            .filter(pk=obj.pk)
            .order_by("pk")  # not the default ordering: it would join (and lock) the district
            .values_list("status", flat=True)
            .first()
        )
        return status == RuleSet.Status.PUBLISHED

    def save_model(self, request: HttpRequest, obj: RuleSet, form: Any, change: bool) -> None:
        if change and self._stored_published(obj):
            # Nothing is written to a published version: save_related makes
            # the next draft version from the whole form instead.
            obj._becomes_new_version = True  # type: ignore[attr-defined]
            return
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if getattr(form.instance, "_becomes_new_version", False):
            return
        super().save_formset(request, form, formset, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        obj = form.instance
        if not getattr(obj, "_becomes_new_version", False):
            super().save_related(request, form, formsets, change)
            if not change:
                rule_set_record_created(actor=_actor(request), rule_set=obj)
            return
        if not form.has_changed() and not any(fs.has_changed() for fs in formsets):
            for formset in formsets:
                formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return
        rows: list[dict[str, str]] = []
        for formset in formsets:
            # Nothing of the published version is saved; the admin's change
            # message reads these.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            if formset.model is not RuleNode:
                continue
            for row_form in formset.forms:
                data = row_form.cleaned_data or {}
                if not data or data.get("DELETE"):
                    continue
                if not (row_form.instance.pk or row_form.has_changed()):
                    continue
                rows.append({k: data.get(k) or "" for k in ROW_FIELDS})
        published = RuleSet.objects.get(pk=obj.pk)
        obj._new_version = rule_set_new_version(
            actor=_actor(request),
            rule_set=published,
            changes={name: form.cleaned_data[name] for name in RULE_FIELDS},
            rows=rows,
        )

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        new = getattr(obj, "_new_version", None)
        return super().log_change(request, new or obj, message)

    def response_change(self, request: HttpRequest, obj: RuleSet) -> HttpResponse:
        new = getattr(obj, "_new_version", None)
        if new is None and getattr(obj, "_becomes_new_version", False):
            messages.info(
                request,
                gettext("Nothing was changed: version %(version)s stays as it is.")
                % {"version": obj.version},
            )
            return HttpResponseRedirect(reverse("admin:eligibility_ruleset_change", args=[obj.pk]))
        if new is None:
            return super().response_change(request, obj)
        messages.warning(
            request,
            gettext(
                "Version %(old)s is published and never changes: your changes were saved as "
                "%(new)s. Publish it, then adopt it in each program that should apply it; "
                "until then programs keep version %(old)s."
            )
            % {"old": obj.version, "new": new.version_label},
        )
        return HttpResponseRedirect(reverse("admin:eligibility_ruleset_change", args=[new.pk]))

    # --- Pages ------------------------------------------------------------------

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Who would qualify: every registered enterprise the official may see."""
        rule_set = self._get(request, pk)
        enterprises = scoped(Enterprise.objects.all(), request.user)
        try:
            preview = rule_set_preview(rule_set=rule_set, enterprises=enterprises)
            error = ""
        except RuleError as exc:
            preview = None
            error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": rule_set,
            "title": gettext("Who would qualify: %(name)s") % {"name": rule_set.version_label},
            "preview": preview,
            "error": error,
            "definition": json.dumps(rule_set.definition(), ensure_ascii=False, indent=2),
        }
        return TemplateResponse(request, "eligibility/admin/ruleset_preview.html", context)

    def export_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule_set = self._get(request, pk)
        response = JsonResponse(
            rule_set.definition(), json_dumps_params={"ensure_ascii": False, "indent": 2}
        )
        response["Content-Disposition"] = (
            f'attachment; filename="rule-set-{rule_set.pk}-v{rule_set.version}.json"'
        )
        return response

    def import_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Replace a draft's rows with a JSON tree; into a published version,
        the import makes the next draft version."""
        rule_set = self._get(request, pk)
        if not self.has_change_permission(request, rule_set):
            raise PermissionDenied
        form = ImportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            definition = form.cleaned_data["definition"]
            try:
                if rule_set.is_published():
                    combinator, rows = _definition_rows(definition)
                    target = rule_set_new_version(
                        actor=_actor(request),
                        rule_set=rule_set,
                        changes={"combinator": combinator},
                        rows=rows,
                    )
                    messages.warning(
                        request,
                        gettext(
                            "Version %(old)s is published and never changes: the rules were "
                            "imported into %(new)s."
                        )
                        % {"old": rule_set.version, "new": target.version_label},
                    )
                else:
                    target = rule_set_import(
                        actor=_actor(request), rule_set=rule_set, definition=definition
                    )
                    messages.success(request, gettext("The rules were imported."))
            except (BusinessError, ValidationError) as exc:
                for message in exc.messages:
                    form.add_error("definition", message)
            else:
                return redirect(reverse("admin:eligibility_ruleset_change", args=[target.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": rule_set,
            "title": gettext("Import rules into %(name)s") % {"name": rule_set.version_label},
            "form": form,
        }
        return TemplateResponse(request, "eligibility/admin/ruleset_import.html", context)

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The "Publish this version" button of a draft's page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        rule_set = self._get(request, pk)
        if not self.has_change_permission(request, rule_set):
            raise PermissionDenied
        self._publish_one(request, rule_set)
        return redirect(reverse("admin:eligibility_ruleset_change", args=[rule_set.pk]))

    def _publish_one(self, request: HttpRequest, rule_set: RuleSet) -> None:
        try:
            published = rule_set_publish(actor=_actor(request), rule_set=rule_set)
        except (BusinessError, PermissionDenied) as exc:
            reasons = exc.messages if isinstance(exc, BusinessError) else [str(exc)]
            self.message_user(
                request, f"{rule_set.version_label}: {'; '.join(reasons)}", level=messages.ERROR
            )
            return
        self.message_user(
            request,
            gettext(
                "%(name)s is published and will never change. Programs applying an older "
                "version keep it until they adopt this one (on each program's page)."
            )
            % {"name": published.version_label},
        )

    @admin.action(description=_("Publish the selected draft versions"), permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[RuleSet]) -> None:
        for rule_set in queryset:
            self._publish_one(request, rule_set)


def _definition_rows(definition: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    """The top level and rows of an imported tree, refused when malformed."""
    from .evaluator import check_definition

    problems = check_definition(definition)
    if problems:
        raise ValidationError(problems)
    return definition_to_rows(definition)
