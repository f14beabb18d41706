"""Performance agreements and their clawback receivables in the admin.

An agreement's page shows its obligations with the measured values and each
one's shortfall, the assessor's report, and offers only what this official
may do now: give it to an assessor (a program manager, once its assessment
date has come) or decide it (a program manager other than the one who
assigned it). Its receivable takes repayments and write-offs (finance
officers of the program's district), on the agreement's page and on a page
of the receivable's own, which any receivable of the district has.

The services of ``settlements.agreements`` and ``settlements.receivables``
are imported where a step is taken: they check the role in the program's
own district again and refuse with a reason shown here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.scoping import scoped
from common import formatting
from common.formatting import amount, rate
from vouchers.admin import ReadOnlyAdmin
from vouchers.models import Receivable

from .admin import _labels, _who_when
from .admin_pages import (
    AssessorField,
    ReadOnlyInline,
    actor_of,
    assessors_of,
    date_field,
    event_history,
    moment_display,
    money_field,
    run_step_form,
    step_page,
    text_field,
)
from .models import Obligation, PerformanceAgreement, Repayment
from .selectors import agreement_steps, receivable_steps

AGREEMENT_STEPS = {"assign": _("Give to an assessor"), "decide": _("Decide the outcome")}
RECEIVABLE_STEPS = {"repay": _("Record a repayment"), "write_off": _("Write off")}


def agreement_next_step(agreement: PerformanceAgreement) -> str:
    """Where the agreement stands and what it waits for, in words."""
    Status = PerformanceAgreement.Status
    if agreement.status == Status.ACTIVE and agreement.assess_on <= timezone.localdate():
        return gettext(
            "Its assessment date, %(date)s, has come: a program manager gives it to an assessor."
        ) % {"date": formatting.date(agreement.assess_on)}
    if agreement.status == Status.ACTIVE:
        return gettext(
            "In force until its assessment on %(date)s; then a program manager gives it to an "
            "assessor."
        ) % {"date": formatting.date(agreement.assess_on)}
    if agreement.status == Status.ASSESSMENT:
        return gettext("With the assessor %(assessor)s: waiting for the measured values.") % {
            "assessor": agreement.assessor
        }
    if agreement.status == Status.ASSESSED:
        return gettext(
            "Assessed: a program manager other than the one who assigned it decides the outcome."
        )
    return gettext("Decided: %(outcome)s.") % {"outcome": agreement.get_status_display()}


# --- Forms ----------------------------------------------------------------------------


class AssignForm(forms.Form):
    assessor = AssessorField(
        label=_("Assessor"),
        queryset=User.objects.none(),
        help_text=_("They record the measured value of each obligation and their report."),
    )

    def __init__(self, *args: Any, agreement: PerformanceAgreement, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["assessor"])
        field.queryset = assessors_of(agreement.program.district_id)


class DecideForm(forms.Form):
    note = text_field(
        _("Note"),
        _("Added to the reason of any clawback; the enterprise reads it."),
        required=False,
    )


class RepayForm(forms.Form):
    amount = money_field(_("Amount repaid"))
    paid_on = date_field(_("Paid on"))
    reference = forms.CharField(
        label=_("Bank reference"), max_length=200, widget=forms.TextInput(attrs={"size": 30})
    )


class WriteOffForm(forms.Form):
    amount = money_field(_("Amount written off"))
    reason = text_field(
        _("Decision and reason"), _("Quote the program manager's decision (its reference) and why.")
    )


# --- The agreements ---------------------------------------------------------------------


class ObligationInline(ReadOnlyInline, admin.TabularInline):
    model = Obligation
    fields: ClassVar[Any] = ["kind", "target", "measured", "shortfall_shown"]
    readonly_fields: ClassVar[Any] = fields

    @admin.display(description=_("shortfall"))
    def shortfall_shown(self, obj: Obligation) -> str:
        return rate(obj.shortfall)


@admin.register(PerformanceAgreement)
class PerformanceAgreementAdmin(ReadOnlyAdmin):
    """Read-only rows; the assignment, the decision and the receivable's
    repayments and write-offs are forms of their own, each calling its service."""

    list_display = [
        "id",
        "enterprise",
        "program",
        "status",
        "subsidy_shown",
        moment_display(PerformanceAgreement, "assess_on"),
        "assessor",
        "receivable_status",
    ]
    list_display_links = ["id", "enterprise"]
    list_filter = ["status", "program"]
    search_fields = ["enterprise__name", "enterprise__uscc"]
    list_select_related = ["enterprise", "program__district", "assessor", "receivable"]
    empty_value_display = "—"
    inlines: ClassVar[Any] = [ObligationInline]
    change_form_template = "settlements/admin/agreement_change_form.html"
    fieldsets: ClassVar[Any] = [
        (
            None,
            {
                "fields": [
                    "enterprise",
                    "program",
                    "claim_link",
                    "voucher",
                    "subsidy_shown",
                    "status",
                    moment_display(PerformanceAgreement, "starts_on"),
                    moment_display(PerformanceAgreement, "assess_on"),
                ]
            },
        ),
        (
            _("Assessment"),
            {
                "fields": [
                    "assessor",
                    "assigned_by",
                    moment_display(PerformanceAgreement, "assessed_at"),
                    "report",
                    "shortfall_shown",
                    _who_when("decided_by", "decided_at", _("Decided")),
                ]
            },
        ),
    ]
    readonly_fields: ClassVar[Any] = [f for _name, options in fieldsets for f in options["fields"]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PerformanceAgreement]:
        return (
            super()
            .get_queryset(request)
            .select_related("enterprise", "program__district", "claim", "receivable__program")
        )

    @admin.display(description=_("subsidy"), ordering="subsidy")
    def subsidy_shown(self, obj: PerformanceAgreement) -> str:
        return format_html('<span class="amount">{}</span>', amount(obj.subsidy))

    @admin.display(description=_("shortfall"))
    def shortfall_shown(self, obj: PerformanceAgreement) -> str:
        return rate(obj.shortfall)

    @admin.display(description=_("claim"))
    def claim_link(self, obj: PerformanceAgreement) -> str:
        if obj.claim_id is None:
            return "—"
        url = reverse("admin:settlements_claim_change", args=[obj.claim_id])
        return format_html('<a href="{}">{}</a>', url, obj.claim)

    @admin.display(description=_("receivable"))
    def receivable_status(self, obj: PerformanceAgreement) -> str:
        receivable = obj.receivable
        if receivable is None:
            return "—"
        return f"{receivable.get_status_display()} · {amount(receivable.outstanding)}"

    # --- The page ------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        urls = [
            path(
                f"<int:pk>/{step}/",
                wrap(self.agreement_step_view),
                {"step": step},
                name=f"settlements_performanceagreement_{step}",
            )
            for step in AGREEMENT_STEPS
        ]
        urls.append(
            path(
                "receivable/<int:receivable_id>/",
                wrap(self.receivable_view),
                name="settlements_performanceagreement_receivable",
            )
        )
        urls += [
            path(
                f"receivable/<int:receivable_id>/{step.replace('_', '-')}/",
                wrap(self.receivable_step_view),
                {"step": step},
                name=f"settlements_performanceagreement_receivable_{step}",
            )
            for step in RECEIVABLE_STEPS
        ]
        return [*urls, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        agreement = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if agreement is not None and self.has_view_permission(request, agreement):
            steps = agreement_steps(agreement, request.user)
            receivable = agreement.receivable
            extra.update(
                {
                    "agreement": agreement,
                    "steps": steps,
                    "offers": [
                        {"label": AGREEMENT_STEPS[step], "url": _agreement_url(agreement, step)}
                        for step in steps
                    ],
                    "next_step": agreement_next_step(agreement),
                    "history": event_history(agreement, receivable),
                    "assigned_it": agreement.status == PerformanceAgreement.Status.ASSESSED
                    and agreement.assigned_by_id == request.user.pk,
                    **_receivable_context(request, receivable),
                }
            )
        return super().change_view(request, object_id, form_url, extra)

    # --- The agreement's steps ------------------------------------------------

    def _agreement(self, request: HttpRequest, pk: int) -> PerformanceAgreement:
        agreement = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, agreement):
            raise PermissionDenied
        return agreement

    def agreement_step_view(self, request: HttpRequest, pk: int, step: str) -> HttpResponse:
        """Give the agreement to an assessor, or decide it: a form, then its service."""
        agreement = self._agreement(request, pk)
        back = _agreement_url(agreement)
        label = str(AGREEMENT_STEPS[step])
        if step not in agreement_steps(agreement, request.user):
            messages.error(
                request,
                gettext("%(step)s is not possible for you on this agreement now.")
                % {"step": label},
            )
            return redirect(back)
        data = request.POST if request.method == "POST" else None
        actor = actor_of(request)
        form: forms.Form
        facts = _agreement_facts(agreement)
        if step == "assign":
            form = AssignForm(data, agreement=agreement)

            def take(data: dict[str, Any]) -> str:
                from .agreements import agreement_assign

                done = agreement_assign(actor=actor, agreement=agreement, assessor=data["assessor"])
                return gettext("Given to the assessor %(assessor)s.") % {"assessor": done.assessor}
        else:
            form = DecideForm(data)
            facts += _decision_facts(agreement)

            def take(data: dict[str, Any]) -> str:
                from .agreements import agreement_decide

                done = agreement_decide(actor=actor, agreement=agreement, note=data["note"])
                if done.receivable is None:
                    return gettext("Decided: %(outcome)s.") % {"outcome": done.get_status_display()}
                return gettext("Decided: %(outcome)s; a clawback of %(amount)s is due.") % {
                    "outcome": done.get_status_display(),
                    "amount": amount(done.receivable.amount, done.receivable.unit),
                }

        answer = run_step_form(request, form, take, back)
        if answer is not None:
            return answer
        return step_page(
            request,
            self,
            agreement,
            step=step,
            step_label=label,
            form=form,
            facts=facts,
            change_url=back,
            changelist_url=reverse("admin:settlements_performanceagreement_changelist"),
        )

    # --- The receivable -------------------------------------------------------

    def _receivable(self, request: HttpRequest, receivable_id: int) -> Receivable:
        """The receivable, if the user sees it (404 otherwise; 403 without the view)."""
        receivable = get_object_or_404(
            scoped(
                Receivable.objects.select_related("program__district", "enterprise", "voucher"),
                request.user,
            ),
            pk=receivable_id,
        )
        if not request.user.has_perm("vouchers.view_receivable", receivable):
            raise PermissionDenied
        return receivable

    def receivable_view(self, request: HttpRequest, receivable_id: int) -> HttpResponse:
        """A receivable with its repayments and write-offs, and the forms to record them."""
        receivable = self._receivable(request, receivable_id)
        agreement = PerformanceAgreement.objects.filter(receivable=receivable).first()
        return TemplateResponse(
            request,
            "settlements/admin/receivable.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": gettext("Receivable no. %(number)s") % {"number": receivable.pk},
                "agreement": agreement
                if agreement is not None and self.has_view_permission(request, agreement)
                else None,
                "facts": _receivable_facts(receivable),
                "history": event_history(receivable),
                **_receivable_context(request, receivable),
            },
        )

    def receivable_step_view(
        self, request: HttpRequest, receivable_id: int, step: str
    ) -> HttpResponse:
        """Record a repayment or a write-off: a form, then its service."""
        receivable = self._receivable(request, receivable_id)
        back = _receivable_url(receivable)
        label = str(RECEIVABLE_STEPS[step])
        if step not in receivable_steps(receivable, request.user):
            messages.error(
                request,
                gettext("%(step)s is not possible for you on this receivable now.")
                % {"step": label},
            )
            return redirect(back)
        data = request.POST if request.method == "POST" else None
        actor = actor_of(request)
        form: forms.Form
        if step == "repay":
            form = RepayForm(data, initial=_repay_initial(receivable))

            def take(data: dict[str, Any]) -> str:
                from .receivables import receivable_repay

                receivable_repay(
                    actor=actor,
                    receivable=receivable,
                    amount=data["amount"],
                    paid_on=data["paid_on"],
                    reference=data["reference"],
                )
                return _receivable_done(receivable, gettext("Repayment"), data["amount"])
        else:
            form = WriteOffForm(data, initial={"amount": receivable.outstanding})

            def take(data: dict[str, Any]) -> str:
                from .receivables import receivable_write_off

                receivable_write_off(
                    actor=actor, receivable=receivable, amount=data["amount"], reason=data["reason"]
                )
                return _receivable_done(receivable, gettext("Write-off"), data["amount"])

        answer = run_step_form(request, form, take, back)
        if answer is not None:
            return answer
        return step_page(
            request,
            self,
            receivable,
            step=step,
            step_label=label,
            form=form,
            facts=_receivable_facts(receivable),
            change_url=back,
            changelist_url=reverse("admin:settlements_performanceagreement_changelist"),
        )


def _agreement_url(agreement: PerformanceAgreement, step: str = "change") -> str:
    return reverse(f"admin:settlements_performanceagreement_{step}", args=[agreement.pk])


def _receivable_url(receivable: Receivable, step: str = "") -> str:
    name = f"receivable_{step}" if step else "receivable"
    return reverse(f"admin:settlements_performanceagreement_{name}", args=[receivable.pk])


def _repay_initial(receivable: Receivable) -> dict[str, Any]:
    return {"amount": receivable.outstanding, "paid_on": timezone.localdate()}


def _receivable_context(request: HttpRequest, receivable: Receivable | None) -> dict[str, Any]:
    """The receivable's repayments and the forms this official may use on it."""
    if receivable is None:
        return {"receivable": None}
    steps = receivable_steps(receivable, request.user)
    forms_: list[dict[str, Any]] = []
    if "repay" in steps:
        forms_.append(
            {
                "label": RECEIVABLE_STEPS["repay"],
                "url": _receivable_url(receivable, "repay"),
                "form": RepayForm(initial=_repay_initial(receivable)),
            }
        )
    if "write_off" in steps:
        forms_.append(
            {
                "label": RECEIVABLE_STEPS["write_off"],
                "url": _receivable_url(receivable, "write_off"),
                "form": WriteOffForm(initial={"amount": receivable.outstanding}),
            }
        )
    return {
        "receivable": receivable,
        "receivable_url": _receivable_url(receivable),
        "receivable_forms": forms_,
        "repayments": receivable.repayments.select_related("recorded_by"),
        "repayment_labels": _labels(Repayment),
    }


def _receivable_done(receivable: Receivable, what: str, paid: Decimal) -> str:
    receivable.refresh_from_db()
    return gettext("%(what)s of %(amount)s recorded; %(left)s is outstanding.") % {
        "what": what,
        "amount": amount(paid, receivable.unit),
        "left": amount(receivable.outstanding, receivable.unit),
    }


def _agreement_facts(agreement: PerformanceAgreement) -> list[tuple[Any, Any]]:
    labels = _labels(PerformanceAgreement)
    return [
        (labels["enterprise"], agreement.enterprise),
        (labels["program"], f"{agreement.program} ({agreement.program.district})"),
        (labels["status"], agreement.get_status_display()),
        (labels["subsidy"], amount(agreement.subsidy)),
        (labels["assess_on"], agreement.assess_on.isoformat()),
    ]


def _decision_facts(agreement: PerformanceAgreement) -> list[tuple[Any, Any]]:
    """What deciding now records, by the program's rule (``clawback_of``)."""
    from .agreements import clawback_of

    obligations = list(agreement.obligations.all())
    outcome, clawback = clawback_of(agreement, obligations)
    facts: list[tuple[Any, Any]] = [
        (
            obligation.get_kind_display(),
            gettext("target %(target)s, measured %(measured)s, shortfall %(shortfall)s")
            % {
                "target": obligation.target,
                "measured": "—" if obligation.measured is None else obligation.measured,
                "shortfall": rate(obligation.shortfall),
            },
        )
        for obligation in obligations
    ]
    facts += [
        (_labels(PerformanceAgreement)["report"], agreement.report),
        (_labels(PerformanceAgreement)["shortfall"], rate(agreement.shortfall)),
        (gettext("Outcome"), PerformanceAgreement.Status(outcome).label),
        (gettext("Clawback"), amount(clawback)),
    ]
    return facts


def _receivable_facts(receivable: Receivable) -> list[tuple[Any, Any]]:
    labels = _labels(Receivable)
    unit = receivable.unit
    return [
        (labels["enterprise"], receivable.enterprise),
        (labels["program"], f"{receivable.program} ({receivable.program.district})"),
        (labels["voucher"], receivable.voucher or "—"),
        (labels["reason"], receivable.reason),
        (labels["status"], receivable.get_status_display()),
        (labels["due_on"], receivable.due_on.isoformat() if receivable.due_on else "—"),
        (labels["amount"], amount(receivable.amount, unit)),
        (labels["repaid_amount"], amount(receivable.repaid_amount, unit)),
        (labels["written_off_amount"], amount(receivable.written_off_amount, unit)),
        (gettext("outstanding"), amount(receivable.outstanding, unit)),
    ]
