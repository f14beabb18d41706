"""Admin for eligibility rule sets: a row editor (fact / operator / value),
JSON import and export, and a preview of who would qualify."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_scoping import ScopedInline
from accounts.models import Enterprise
from accounts.scoping import scoped
from audit.admin_mixins import AuditedModelAdmin
from audit.services import Actor, client_ip

from .evaluator import OPERATORS, RuleError, check_condition, operator_choices
from .facts import FACTS, fact_choices
from .models import RuleNode, RuleSet, row_problems
from .selectors import rule_set_preview
from .services import rule_set_import, rule_set_publish


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


@admin.register(RuleSet)
class RuleSetAdmin(AuditedModelAdmin):
    list_display = ["name", "name_en", "district", "status", "updated_at"]
    list_filter = ["status", "district"]
    search_fields = ["name", "name_en"]
    fields = [
        "district",
        "name",
        "name_en",
        "description",
        "description_en",
        "status",
        "combinator",
    ]
    readonly_fields = ["status"]
    inlines = [RuleNodeInline]
    actions = ["publish"]
    change_form_template = "eligibility/admin/ruleset_change_form.html"

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", wrap(self.preview_view), name="eligibility_ruleset_preview"),
            path("<int:pk>/export/", wrap(self.export_view), name="eligibility_ruleset_export"),
            path("<int:pk>/import/", wrap(self.import_view), name="eligibility_ruleset_import"),
            *super().get_urls(),
        ]

    def _get(self, request: HttpRequest, pk: int) -> RuleSet:
        rule_set = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, rule_set):
            raise PermissionDenied
        return rule_set

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "fact_rows": _fact_rows()}
        return super().change_view(request, object_id, form_url, extra)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "fact_rows": _fact_rows()}
        return super().add_view(request, form_url, extra)

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
            "title": gettext("Who would qualify: %(name)s") % {"name": rule_set.display_name},
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
        response["Content-Disposition"] = f'attachment; filename="rule-set-{rule_set.pk}.json"'
        return response

    def import_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule_set = self._get(request, pk)
        if not self.has_change_permission(request, rule_set):
            raise PermissionDenied
        form = ImportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                rule_set_import(
                    actor=Actor.for_user(request.user, source_ip=client_ip(request)),
                    rule_set=rule_set,
                    definition=form.cleaned_data["definition"],
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("definition", message)
            else:
                messages.success(request, gettext("The rules were imported."))
                return redirect(reverse("admin:eligibility_ruleset_change", args=[rule_set.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": rule_set,
            "title": gettext("Import rules into %(name)s") % {"name": rule_set.display_name},
            "form": form,
        }
        return TemplateResponse(request, "eligibility/admin/ruleset_import.html", context)

    @admin.action(description=_("Publish the selected rule sets"), permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[RuleSet]) -> None:
        actor = Actor.for_user(request.user, source_ip=client_ip(request))
        for rule_set in queryset:
            try:
                rule_set_publish(actor=actor, rule_set=rule_set)
            except ValidationError as exc:
                self.message_user(
                    request,
                    f"{rule_set}: {'; '.join(exc.messages)}",
                    level=messages.ERROR,
                )
            else:
                self.message_user(request, gettext("%(name)s is published.") % {"name": rule_set})
