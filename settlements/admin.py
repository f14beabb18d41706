"""The officials' side of settlements in the admin: the district's settlements
with their figures, invoice, review trail, lines and payments, and the steps
of review, approval and payment offered only to whoever may take them now.

Nothing is edited by hand: every step is a POST that calls a service of
``settlements.services``, which checks the role in the program's own district
again and refuses with a reason shown here as an error message. Payment
batches (export to the treasury, the bank's file) register themselves in
``settlements.admin_payments``.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.models import AuditEvent
from audit.object_types import object_type_of
from audit.services import Actor, client_ip
from common.errors import BusinessError
from common.formatting import amount
from programs.admin_display import amount_display, own_unit
from vouchers.admin import ReadOnlyAdmin

from .models import Payment, Settlement, SettlementLine
from .selectors import settlement_lines, settlement_payments, settlement_steps
from .services import (
    settlement_approve,
    settlement_line_reject,
    settlement_pass_on,
    settlement_payment_record,
    settlement_return,
    settlement_start_review,
    yuan_of,
)

#: Lines shown per page on a settlement's page.
LINES_PER_PAGE = 50

STEP_LABELS = {
    "start_review": _("Start the review"),
    "reject_line": _("Reject the line"),
    "return_for_changes": _("Return for changes"),
    "pass_on": _("Pass on to finance"),
    "approve": _("Approve"),
    "approve_first": _("Approve (first of two approvals)"),
    "approve_second": _("Confirm the approval (second finance officer)"),
    "record_payment": _("Record a payment"),
}
#: Steps taken with one button; the others ask for a reason or the payment's details.
BUTTON_STEPS = ("start_review", "pass_on", "approve")
FORM_STEPS = ("reject_line", "return_for_changes", "record_payment")

EVENT_LABELS = {
    "settlement.drawn": _("Drawn from the ledger"),
    "settlement.submitted": _("Submitted by the platform"),
    "settlement.review_started": _("Review started"),
    "settlement.line_rejected": _("Line rejected"),
    "settlement.returned": _("Returned for changes"),
    "settlement.passed_to_finance": _("Passed on to finance"),
    "settlement.first_approval": _("First approval"),
    "settlement.approved": _("Approved"),
    "settlement.payment_recorded": _("Payment recorded"),
    "settlement.paid": _("Paid in full"),
}


def next_step(settlement: Settlement) -> str:
    """Where the settlement stands and what it waits for, in words."""
    status = settlement.status
    if status == Settlement.Status.DRAFT:
        return gettext("Waiting for the platform to submit it with its invoice.")
    if status == Settlement.Status.RETURNED:
        return gettext("Returned: waiting for the platform to correct it and submit it again.")
    if status == Settlement.Status.SUBMITTED:
        return gettext("Waiting for a reviewer of the district to take it up.")
    if status == Settlement.Status.UNDER_REVIEW and settlement.reviewed_at is None:
        return gettext("Under review: the reviewer checks the lines, then passes it on to finance.")
    if status == Settlement.Status.UNDER_REVIEW and settlement.first_approved_at is not None:
        return gettext("Waiting for a second finance officer to confirm the approval.")
    if status == Settlement.Status.UNDER_REVIEW:
        return gettext("Waiting for a finance officer's approval.")
    if status == Settlement.Status.APPROVED:
        return gettext("Approved: waiting for payment of %(left)s.") % {
            "left": amount(settlement.outstanding, settlement.unit)
        }
    return gettext("Paid in full.")


def _refusal(exc: Exception) -> str:
    if isinstance(exc, BusinessError):
        return str(exc.message)
    return str(exc) or gettext("You may not do this.")


def _who_when(by: str, at: str, description: Any) -> Any:
    """A read-only field: who did a step of the review, and when."""

    def show(obj: Settlement) -> str:
        when = getattr(obj, at)
        if when is None:
            return "—"
        who = getattr(obj, by)
        return f"{who or '—'} · {timezone.localtime(when):%Y-%m-%d %H:%M}"

    show.__name__ = at
    return admin.display(description=description)(show)


def _money(field: str) -> Any:
    """A settlement's amount field, shown in its unit."""
    return amount_display(Settlement, field, unit=own_unit)


def settlement_unit(obj: Any) -> str:
    """The unit of the settlement a line or payment belongs to."""
    return str(obj.settlement.unit)


# --- Forms of the steps that ask for more than a click --------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text=_("The platform reads it."),
    )


class PaymentForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount settled"),
        max_digits=16,
        decimal_places=2,
        min_value=Decimal("0.01"),
    )
    paid_on = forms.DateField(label=_("Paid on"), widget=forms.DateInput(attrs={"type": "date"}))
    # Wide enough for a treasury account's name and number as the demo's.
    payer_account = forms.CharField(
        label=_("Payer account"), max_length=100, widget=forms.TextInput(attrs={"size": 44})
    )
    bank_reference = forms.CharField(
        label=_("Bank reference"), max_length=100, widget=forms.TextInput(attrs={"size": 30})
    )


# --- Settlements ------------------------------------------------------------------


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdmin):
    """Read-only rows; the review and payment steps are buttons and forms of
    their own (``settlement_steps``), each calling its service."""

    list_display = [
        "period",
        "platform",
        "program",
        "district",
        "status",
        "line_count",
        *map(_money, ("amount_due", "approved_amount", "paid_amount")),
    ]
    list_display_links = ["period", "platform"]
    list_filter = ["status", "period", "program", "platform"]
    search_fields = ["period", "invoice_number", "platform__name", "program__name"]
    list_select_related = ["platform", "program__district"]
    empty_value_display = "—"
    change_form_template = "settlements/admin/settlement_change_form.html"
    fieldsets: ClassVar[Any] = [
        (None, {"fields": ["platform", "program", "district", "period_shown", "status"]}),
        (
            _("Figures"),
            {
                "fields": [
                    "line_count",
                    *map(_money, ("covered", "reversed", "rejected", "amount_due")),
                ]
            },
        ),
        (
            _("The platform's invoice"),
            {
                "fields": [
                    "invoice_number",
                    _money("invoice_amount"),
                    "submission_note",
                    _who_when("submitted_by", "submitted_at", _("Submitted")),
                ]
            },
        ),
        (
            _("Review and approval"),
            {
                "fields": [
                    _who_when("review_started_by", "review_started_at", _("Review started")),
                    "returned",
                    _who_when("reviewed_by", "reviewed_at", _("Passed on to finance")),
                    _money("four_eyes_threshold"),
                    _who_when("first_approved_by", "first_approved_at", _("First approval")),
                    _who_when("approved_by", "approved_at", _("Approved")),
                    _money("approved_amount"),
                ]
            },
        ),
        (
            _("Payment"),
            {
                "fields": [
                    _money("paid_amount"),
                    "outstanding_amount",
                    "paid_in_full_at",
                    "payment_reference",
                ]
            },
        ),
    ]
    readonly_fields: ClassVar[Any] = [f for _name, options in fieldsets for f in options["fields"]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Settlement]:
        return super().get_queryset(request).select_related("platform", "program__district")

    @admin.display(description=_("district"), ordering="program__district__code")
    def district(self, obj: Settlement) -> Any:
        return obj.program.district

    @admin.display(description=Settlement._meta.get_field("period").verbose_name)
    def period_shown(self, obj: Settlement) -> str:
        """The period with its first and last day (China Standard Time)."""
        first = timezone.localtime(obj.starts_at).date()
        last = timezone.localtime(obj.ends_at).date() - datetime.timedelta(days=1)
        return f"{obj.period} ({first:%Y-%m-%d} – {last:%Y-%m-%d})"

    @admin.display(description=_("Returned for changes"))
    def returned(self, obj: Settlement) -> str:
        if obj.returned_at is None:
            return "—"
        return f"{timezone.localtime(obj.returned_at):%Y-%m-%d %H:%M} · {obj.return_reason}"

    @admin.display(description=Settlement._meta.get_field("paid_at").verbose_name)
    def paid_in_full_at(self, obj: Settlement) -> str:
        """As the other moments of the page, not in the locale's long format."""
        if obj.paid_at is None:
            return "—"
        return f"{timezone.localtime(obj.paid_at):%Y-%m-%d %H:%M}"

    @admin.display(description=_("still to pay"))
    def outstanding_amount(self, obj: Settlement) -> str:
        if obj.approved_amount is None:
            return self.empty_value_display
        return format_html('<span class="amount">{}</span>', amount(obj.outstanding, obj.unit))

    # --- The page ------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        urls = [
            path(
                f"<int:pk>/{step.replace('_', '-')}/",
                wrap(self.step_view if step in BUTTON_STEPS else self.form_view),
                {"step": step},
                name=f"settlements_settlement_{step}",
            )
            for step in (*BUTTON_STEPS, *FORM_STEPS)
        ]
        return [*urls, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        settlement = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if settlement is not None and self.has_view_permission(request, settlement):
            steps = settlement_steps(settlement, request.user)
            lines = Paginator(
                settlement_lines(settlement).select_related("rejected_by"), LINES_PER_PAGE
            ).get_page(request.GET.get("lines"))
            extra.update(
                {
                    "settlement": settlement,
                    "steps": steps,
                    "offers": [
                        {
                            "label": STEP_LABELS[step],
                            "url": _url(settlement, step),
                            "post": step not in FORM_STEPS,
                        }
                        for step in steps
                        if step != "reject_line"
                    ],
                    "line_labels": _labels(SettlementLine),
                    "payment_labels": _labels(Payment),
                    "next_step": next_step(settlement),
                    "lines": lines,
                    "may_view_vouchers": request.user.has_perm("vouchers.view_voucher"),
                    "payments": settlement_payments(settlement).select_related(
                        "recorded_by", "batch"
                    ),
                    "history": _history(settlement),
                    "gave_first_approval": settlement.first_approved_by_id == request.user.pk
                    and settlement.status == Settlement.Status.UNDER_REVIEW,
                }
            )
        return super().change_view(request, object_id, form_url, extra)

    # --- The steps ----------------------------------------------------------

    def _settlement(self, request: HttpRequest, pk: int) -> Settlement:
        """The settlement, if the user sees it (404 otherwise; 403 without the view)."""
        settlement = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, settlement):
            raise PermissionDenied
        return settlement

    def step_view(self, request: HttpRequest, pk: int, step: str) -> HttpResponse:
        """Start the review, pass on to finance or approve: one POST, one service."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        settlement = self._settlement(request, pk)
        actor = Actor.for_user(request.user, source_ip=client_ip(request))
        try:
            if step == "start_review":
                settlement_start_review(actor=actor, settlement=settlement)
                done = gettext("Review started: reject any line with its reason, then pass it on.")
            elif step == "pass_on":
                settlement_pass_on(actor=actor, settlement=settlement)
                done = gettext("Passed on to finance for approval.")
            else:
                settlement = settlement_approve(actor=actor, settlement=settlement)
                if settlement.status == Settlement.Status.UNDER_REVIEW:
                    done = gettext(
                        "First approval recorded: another finance officer must confirm it."
                    )
                else:
                    done = gettext("Approved: %(amount)s.") % {
                        "amount": amount(settlement.approved_amount, settlement.unit)
                    }
        except (BusinessError, PermissionDenied) as exc:
            messages.error(request, _refusal(exc))
        else:
            messages.success(request, done)
        return redirect(_url(settlement))

    def form_view(self, request: HttpRequest, pk: int, step: str) -> HttpResponse:
        """Reject a line, return for changes or record a payment: a form, then
        its service; the form again with the refusal beside its field."""
        settlement = self._settlement(request, pk)
        change_url = _url(settlement)
        if step not in settlement_steps(settlement, request.user):
            messages.error(
                request,
                gettext("%(step)s is not possible for you on this settlement now.")
                % {"step": STEP_LABELS[step]},
            )
            return redirect(change_url)
        data = request.POST if request.method == "POST" else None
        line = None
        if step == "reject_line":
            line = _line(settlement, (data or request.GET).get("line", ""))
        if step in ("reject_line", "return_for_changes"):
            form: forms.Form = ReasonForm(data)
        else:
            form = PaymentForm(
                data,
                initial={"amount": settlement.outstanding, "paid_on": timezone.localdate()},
            )
        if data is not None and form.is_valid():
            try:
                actor = Actor.for_user(request.user, source_ip=client_ip(request))
                done = _take(actor, settlement, step, form.cleaned_data, line)
            except BusinessError as exc:
                if exc.field not in form.fields:
                    messages.error(request, str(exc.message))
                    return redirect(change_url)
                form.add_error(exc.field, str(exc.message))
            except PermissionDenied as exc:
                messages.error(request, _refusal(exc))
                return redirect(change_url)
            else:
                messages.success(request, done)
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": settlement,
            "title": f"{STEP_LABELS[step]} · {settlement}",
            "step": step,
            "step_label": STEP_LABELS[step],
            "form": form,
            "line": line,
            "labels": _labels(Settlement),
            "line_labels": _labels(SettlementLine),
            "outstanding_yuan": yuan_of(settlement.outstanding, settlement.unit),
            "change_url": change_url,
        }
        return TemplateResponse(request, "settlements/admin/settlement_step.html", context)


def _take(actor: Actor, settlement: Settlement, step: str, data: Any, line: Any) -> str:
    """Call the step's service; the success message."""
    if line is not None:
        line = settlement_line_reject(actor=actor, line=line, reason=data["reason"])
        reversal = line.rejection_reversal
        if reversal is None:
            return gettext("Line %(reference)s rejected.") % {"reference": line.reference}
        return gettext("Line %(reference)s rejected: %(amount)s went back to voucher %(code)s.") % {
            "reference": line.reference,
            "amount": amount(reversal.amount, settlement.unit),
            "code": line.voucher.code,
        }
    if step == "return_for_changes":
        settlement_return(actor=actor, settlement=settlement, reason=data["reason"])
        return gettext("Returned to the platform for changes.")
    payment = settlement_payment_record(
        actor=actor,
        settlement=settlement,
        amount=data["amount"],
        paid_on=data["paid_on"],
        payer_account=data["payer_account"],
        bank_reference=data["bank_reference"],
    )
    settlement.refresh_from_db()
    if settlement.status == Settlement.Status.PAID:
        return gettext("Payment of %(amount)s recorded: the settlement is paid in full.") % {
            "amount": amount(payment.amount, settlement.unit)
        }
    return gettext("Payment of %(amount)s recorded; %(left)s is still to pay.") % {
        "amount": amount(payment.amount, settlement.unit),
        "left": amount(settlement.outstanding, settlement.unit),
    }


def _url(settlement: Settlement, step: str = "change") -> str:
    """The address of the settlement's page, or of one of its steps."""
    # The first and the second approval are taken at the one approval address.
    name = "approve" if step.startswith("approve") else step
    return reverse(f"admin:settlements_settlement_{name}", args=[settlement.pk])


def _labels(model: Any) -> dict[str, Any]:
    """The verbose names of ``model``'s fields, for a table's headers."""
    return {f.name: getattr(f, "verbose_name", f.name) for f in model._meta.get_fields()}


def _line(settlement: Settlement, value: str) -> SettlementLine:
    """The settlement's line named by ``value`` (404 for anything else)."""
    if not value.isdigit():
        raise Http404
    return get_object_or_404(
        SettlementLine.objects.select_related("voucher"), settlement=settlement, pk=int(value)
    )


def _history(settlement: Settlement) -> list[dict[str, Any]]:
    """The settlement's events from the audit log, oldest first, in words."""
    rows = []
    events = AuditEvent.objects.filter(
        object_type=object_type_of(Settlement), object_id=str(settlement.pk)
    ).order_by("id")
    for event in events:
        after = event.after or {}
        detail = ""
        if event.event_type == "settlement.line_rejected":
            detail = str(after.get("reference", ""))
        elif event.event_type == "settlement.payment_recorded" and after.get("amount"):
            detail = (
                f"{amount(after['amount'], settlement.unit)} · {after.get('bank_reference', '')}"
            )
        actor = event.actor_label
        if event.actor_kind != AuditEvent.ActorKind.USER:
            # "System task: settlements_draw", as the audit timeline says it.
            actor = gettext("%(kind)s: %(actor)s") % {
                "kind": event.get_actor_kind_display(),
                "actor": actor,
            }
        rows.append(
            {
                "label": EVENT_LABELS.get(event.event_type, event.event_type),
                "at": event.occurred_at,
                "actor": actor,
                "detail": detail,
                "note": event.note,
            }
        )
    return rows


# Lines and payments, read-only (settlements.admin_lists); payment batches
# (export for the treasury, the bank's confirmation file); claims, contracts
# and performance agreements (settlements.admin_claims).
from . import admin_claims, admin_lists, admin_payments  # noqa: E402,F401
