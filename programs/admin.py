"""Admin for programs (schedule, budget, projection, lifecycle) and for the
review of applications (only the actions the official may take now)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_scoping import ScopedInline, refuse_unless
from accounts.reauthentication import require_recent_reauthentication
from accounts.scoping import scoped
from audit.admin_mixins import AuditedModelAdmin
from audit.services import Actor, client_ip
from common.errors import BusinessError
from common.formatting import amount
from eligibility.models import RuleSet
from eligibility.selectors import rule_set_draft_of, rule_set_newer_published

from . import charts as program_charts
from .admin_display import amount_display, own_unit
from .models import AGREEMENT_TARGET_KINDS, PhaseStep, Program
from .phasedown import Step, schedule_problems
from .selectors import program_budget, program_projection
from .services import (
    PROGRAM_FIXED_ONCE_USED,
    program_adopt_rule_set,
    program_close,
    program_create,
    program_in_use,
    program_lock,
    program_open,
    program_pause,
    program_resume,
    program_update,
)

# --- Programs -------------------------------------------------------------


class PhaseStepFormSet(forms.BaseInlineFormSet):
    """Refuses schedules that rise, share a date, or have no exit."""

    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        steps = [
            Step(form.cleaned_data["starts_on"], form.cleaned_data["rate"])
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("starts_on")
            and form.cleaned_data.get("rate") is not None
        ]
        if not steps:
            return
        base_rate = self.instance.base_rate
        if base_rate is None:
            return
        problems = schedule_problems(base_rate, steps)
        if problems:
            raise ValidationError(problems)


class PhaseStepInline(ScopedInline, admin.TabularInline):
    model = PhaseStep
    formset = PhaseStepFormSet
    extra = 1
    fields = ["starts_on", "rate"]
    verbose_name_plural = _("phase-down schedule (rates step down to 0 = exit)")


class ProgramForm(forms.ModelForm):
    class Meta:
        model = Program
        exclude: list[str] = []

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("voucher_validity_days") and data.get("voucher_valid_until"):
            self.add_error(
                "voucher_valid_until",
                gettext("Give either a number of days from issue or a fixed end date, not both."),
            )
        total = data.get("total_budget")
        if self.instance.pk and total is not None and total < self.instance.committed_amount:
            self.add_error(
                "total_budget",
                gettext("%(committed)s is already committed; the budget cannot be less.")
                % {"committed": amount(self.instance.committed_amount, self.instance.unit)},
            )
        rule_set = data.get("rule_set")
        district = data.get("district") or getattr(self.instance, "district", None)
        if rule_set is not None and district is not None and rule_set.district_id != district.pk:
            self.add_error(
                "rule_set", gettext("A program applies only its own district's rule sets.")
            )
        threshold = data.get("four_eyes_threshold")
        cap = data.get("per_enterprise_cap")
        if threshold is not None and cap is not None and threshold > cap:
            self.add_error(
                "four_eyes_threshold",
                gettext("Above the cap per enterprise this threshold would never apply."),
            )
        for first, last in (
            ("claim_opens_on", "claim_closes_on"),
            ("service_starts_on", "service_ends_on"),
        ):
            if data.get(first) and data.get(last) and data[last] < data[first]:
                self.add_error(last, gettext("This date is before the one it follows."))
        problem = agreement_targets_problem(data.get("agreement_targets"))
        if problem:
            self.add_error("agreement_targets", problem)
        elif data.get("requires_agreement") and not data.get("agreement_targets"):
            self.add_error(
                "agreement_targets",
                gettext("A program that requires an agreement names its targets."),
            )
        return data


def agreement_targets_problem(targets: Any) -> str | None:
    """Why the program's agreement targets are not a list of {"kind", "target"}
    with known kinds and positive targets; None when they are fine."""
    if targets in (None, ""):
        return None
    kinds = {kind for kind, _label in AGREEMENT_TARGET_KINDS}
    if not isinstance(targets, list):
        return gettext('Give a list such as [{"kind": "headcount", "target": "20"}].')
    seen: set[str] = set()
    for item in targets:
        if not isinstance(item, dict) or item.get("kind") not in kinds or item["kind"] in seen:
            return gettext("Each target names one of: %(kinds)s, once.") % {
                "kinds": ", ".join(sorted(kinds))
            }
        seen.add(item["kind"])
        try:
            value = Decimal(str(item.get("target")))
        except (InvalidOperation, ValueError):
            value = Decimal("0")
        if not value.is_finite() or value <= 0:
            return gettext("Each target is a number greater than zero.")
    return None


class AdoptRuleSetForm(forms.Form):
    """Choose the published rule set version a program applies from now on."""

    rule_set = forms.ModelChoiceField(
        label=_("Eligibility rules to apply from now on"),
        queryset=RuleSet.objects.none(),
        required=False,
        empty_label=_("None: every registered enterprise may apply"),
        help_text=_(
            "Published versions of this district's rule sets. Applications already "
            "submitted keep the version they were decided under."
        ),
    )

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["rule_set"]
        field.queryset = RuleSet.objects.filter(
            district_id=program.district_id, status=RuleSet.Status.PUBLISHED
        ).order_by("name", "-version")
        field.label_from_instance = lambda rs: rs.version_label
        newer = rule_set_newer_published(rule_set=program.rule_set) if program.rule_set else None
        field.initial = newer or program.rule_set


PROGRAM_MOVES = {
    "open": (program_open, _("Open for applications")),
    "pause": (program_pause, _("Pause")),
    "resume": (program_resume, _("Resume")),
    "close": (program_close, _("Close")),
}


class ProgramWrites(admin.ModelAdmin):
    """The end of ProgramAdmin's save chain (after the audit snapshot and the
    scope check): the program services write the row, never ``obj.save()``,
    which would write back the budget counters as the change view first read
    them and lose an approval or issuance committed meanwhile."""

    def save_model(self, request: HttpRequest, obj: Program, form: Any, change: bool) -> None:
        actor = Actor.for_user(request.user, source_ip=client_ip(request))
        if not change:
            program_create(actor=actor, program=obj)
            return
        columns = {f.name for f in Program._meta.concrete_fields}
        program_update(
            actor=actor,
            program=obj,
            changes={name: getattr(obj, name) for name in form.changed_data if name in columns},
        )


@admin.register(Program)
class ProgramAdmin(AuditedModelAdmin, ProgramWrites):
    form = ProgramForm
    list_display = [
        "name",
        "district",
        "kind",
        "status",
        amount_display(Program, "total_budget", unit=own_unit),
        amount_display(Program, "reserved_amount", unit=own_unit),
        amount_display(Program, "issued_amount", unit=own_unit),
        "application_closes_on",
    ]
    list_filter = ["status", "kind", "district"]
    search_fields = ["name", "name_en"]
    inlines = [PhaseStepInline]
    filter_horizontal = ["platforms"]
    readonly_fields = [
        "status",
        "budget_figures",
        "budget_projection",
        "budget_burn",
        "rate_steps",
        "rule_set_in_force",
    ]
    change_form_template = "vouchers/admin/program_change_form.html"
    fieldsets = [
        (None, {"fields": ["district", "name", "name_en", "kind", "unit", "status"]}),
        (_("Description"), {"fields": ["summary", "summary_en", "obligations", "obligations_en"]}),
        (
            _("Budget and caps"),
            {
                "fields": [
                    "total_budget",
                    "per_enterprise_cap",
                    "per_charge_cap",
                    "four_eyes_threshold",
                    "budget_figures",
                    "budget_burn",
                    "budget_projection",
                ]
            },
        ),
        (
            _("Rate, window and validity"),
            {
                "fields": [
                    "base_rate",
                    "rate_steps",
                    "application_opens_on",
                    "application_closes_on",
                    "voucher_validity_days",
                    "voucher_valid_until",
                ]
            },
        ),
        (_("Where vouchers are spent"), {"fields": ["platforms", "cross_region"]}),
        (
            _("Payout"),
            {"fields": ["payout_mode", "settlement_period", "settlement_four_eyes_threshold"]},
        ),
        (
            _("Claims (reimbursement and contract vouchers)"),
            {
                "classes": ["collapse"],
                "fields": [
                    ("claim_opens_on", "claim_closes_on"),
                    ("service_starts_on", "service_ends_on"),
                    ("contracts_signed_from", "contract_max_term_days"),
                    "claim_min_spend",
                    ("claim_cap", "claim_cap_per_year"),
                    "claim_rounding",
                    "claim_priority",
                    "claim_gpu_npu_only",
                    "claim_requires_assessment",
                ],
            },
        ),
        (
            _("Performance agreement"),
            {
                "classes": ["collapse"],
                "fields": [
                    "requires_agreement",
                    "agreement_targets",
                    "agreement_term_months",
                    ("clawback_rule", "clawback_due_days"),
                ],
            },
        ),
        (_("Eligibility"), {"fields": ["rule_set", "rule_set_in_force"]}),
    ]
    actions = ["adopt_newest_rule_sets"]

    # Changing what a program may spend needs a fresh password or TOTP code.
    MONEY_FIELDS = frozenset(
        {
            "total_budget",
            "per_enterprise_cap",
            "per_charge_cap",
            "four_eyes_threshold",
            "settlement_four_eyes_threshold",
            "base_rate",
            "claim_min_spend",
            "claim_cap",
            "claim_cap_per_year",
        }
    )

    # Offered read-only once the program has applications or vouchers
    # (program_update refuses the change too).
    FIXED_ONCE_USED = PROGRAM_FIXED_ONCE_USED

    def get_readonly_fields(self, request: HttpRequest, obj: Program | None = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk and program_in_use(obj):
            fields += [f for f in self.FIXED_ONCE_USED if f not in fields]
        if obj is not None and obj.pk:
            # Once the program exists its rules change only by an explicit,
            # audited adoption ("Change the eligibility rules").
            fields.append("rule_set")
        return fields

    def save_model(self, request: HttpRequest, obj: Program, form: Any, change: bool) -> None:
        if change and self.MONEY_FIELDS & set(form.changed_data):
            require_recent_reauthentication(request)
        if change:
            # Lock the row before the audit snapshot is taken (the change view
            # is one transaction): the recorded before/after then differ only
            # in what this official changed, not in a counter moved meanwhile.
            program_lock(program=obj)
        # Audit snapshot, scope check, then ProgramWrites: the services write.
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if change and formset.model is PhaseStep and formset.has_changed():
            require_recent_reauthentication(request)
        super().save_formset(request, form, formset, change)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "rule_set":
            # Only published rule sets of the official's districts.
            kwargs["queryset"] = scoped(
                RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED), request.user
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/move/<str:move>/",
                wrap(self.move_view),
                name="programs_program_move",
            ),
            path(
                "<int:pk>/adopt-rule-set/",
                wrap(self.adopt_rule_set_view),
                name="programs_program_adopt_rule_set",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("eligibility rules in force"))
    def rule_set_in_force(self, obj: Program) -> Any:
        """Which version applies, whether a newer one is published or being
        edited, and the way to adopt another."""
        from django.utils.html import format_html

        if not obj.pk:
            return "—"
        in_force = obj.rule_set
        parts = []
        if in_force is None:
            parts.append(format_html("{}", gettext("None: every registered enterprise may apply.")))
        else:
            parts.append(
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:eligibility_ruleset_change", args=[in_force.pk]),
                    in_force.version_label,
                )
            )
            newer = rule_set_newer_published(rule_set=in_force)
            if newer is not None:
                parts.append(
                    format_html(
                        '<strong class="bad">{}</strong>',
                        gettext(
                            "A newer version is published: %(newer)s. This program keeps "
                            "version %(version)s until it adopts the newer one."
                        )
                        % {"newer": newer.version_label, "version": in_force.version},
                    )
                )
            draft = rule_set_draft_of(rule_set=in_force)
            if draft is not None:
                parts.append(
                    format_html(
                        "{}", gettext("%(draft)s is being edited.") % {"draft": draft.version_label}
                    )
                )
        parts.append(
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:programs_program_adopt_rule_set", args=[obj.pk]),
                gettext("Change the eligibility rules (adopt a version) …"),
            )
        )
        return format_html_join(mark_safe("<br>"), "{}", ((p,) for p in parts))

    def adopt_rule_set_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Adopt a published rule set version for the program: the only way its rules change."""
        program = get_object_or_404(self.get_queryset(request).select_related("rule_set"), pk=pk)
        if not self.has_view_permission(request, program):
            raise PermissionDenied
        may_adopt = self.has_change_permission(request, program)
        if request.method == "POST" and not may_adopt:
            raise PermissionDenied
        form = AdoptRuleSetForm(request.POST or None, program=program)
        if request.method == "POST" and form.is_valid():
            chosen = form.cleaned_data["rule_set"]
            try:
                program_adopt_rule_set(
                    actor=Actor.for_user(request.user, source_ip=client_ip(request)),
                    program=program,
                    rule_set=chosen,
                )
            except BusinessError as exc:
                form.add_error("rule_set", str(exc.message))
            else:
                messages.success(
                    request,
                    gettext("%(program)s now applies %(rule_set)s.")
                    % {
                        "program": program,
                        "rule_set": chosen.version_label
                        if chosen
                        else gettext("no eligibility rules"),
                    },
                )
                return redirect(reverse("admin:programs_program_change", args=[program.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": program,
            "title": gettext("Eligibility rules of %(program)s") % {"program": program},
            "form": form,
            "in_force": program.rule_set,
            "may_adopt": may_adopt,
        }
        return TemplateResponse(request, "vouchers/admin/program_adopt_rule_set.html", context)

    @admin.action(
        description=_("Adopt the newest published version of each program's rule set"),
        permissions=["change"],
    )
    def adopt_newest_rule_sets(self, request: HttpRequest, queryset: QuerySet[Program]) -> None:
        actor = Actor.for_user(request.user, source_ip=client_ip(request))
        for program in queryset.select_related("rule_set"):
            newer = (
                rule_set_newer_published(rule_set=program.rule_set) if program.rule_set else None
            )
            if newer is None:
                self.message_user(
                    request,
                    gettext("%(program)s already applies the newest published version.")
                    % {"program": program},
                    level=messages.WARNING,
                )
                continue
            try:
                program_adopt_rule_set(actor=actor, program=program, rule_set=newer)
            except (BusinessError, PermissionDenied) as exc:
                message = exc.message if isinstance(exc, BusinessError) else str(exc)
                self.message_user(request, f"{program}: {message}", level=messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("%(program)s now applies %(rule_set)s.")
                    % {"program": program, "rule_set": newer.version_label},
                )

    @admin.display(description=_("Budget"))
    def budget_figures(self, obj: Program) -> Any:
        if not obj.pk:
            return "—"
        from django.template.loader import render_to_string

        return render_to_string(
            "vouchers/admin/_budget.html", {"program": obj, "budget": program_budget(program=obj)}
        )

    @admin.display(description=_("Projection under the schedule"))
    def budget_projection(self, obj: Program) -> Any:
        if not obj.pk:
            return "—"
        from django.template.loader import render_to_string

        daily, rows = program_projection(program=obj)
        return render_to_string(
            "vouchers/admin/_projection.html", {"program": obj, "daily": daily, "rows": rows}
        )

    @admin.display(description=_("Burn over time"))
    def budget_burn(self, obj: Program) -> Any:
        if not obj.pk:
            return "—"
        return program_charts.burn_figure(obj)

    @admin.display(description=_("Phase-down steps"))
    def rate_steps(self, obj: Program) -> Any:
        if not obj.pk:
            return "—"
        return program_charts.steps_figure(obj)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        program = self.get_object(request, object_id)
        moves = []
        if program is not None:
            for transition in program.transitions_for(request.user):
                if transition.name in PROGRAM_MOVES:
                    moves.append((transition.name, PROGRAM_MOVES[transition.name][1]))
        extra = {**(extra_context or {}), "program_moves": moves}
        return super().change_view(request, object_id, form_url, extra)

    def move_view(self, request: HttpRequest, pk: int, move: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        program = get_object_or_404(self.get_queryset(request), pk=pk)
        refuse_unless(self.has_change_permission(request, program))
        if move not in PROGRAM_MOVES:
            raise PermissionDenied
        service = PROGRAM_MOVES[move][0]
        try:
            service(
                actor=Actor.for_user(request.user, source_ip=client_ip(request)), program=program
            )
        except BusinessError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(
                request,
                gettext("%(program)s: %(move)s — done.")
                % {"program": program, "move": PROGRAM_MOVES[move][1]},
            )
        return redirect(reverse("admin:programs_program_change", args=[program.pk]))
