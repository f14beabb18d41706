"""Admin for the review of applications: only the actions the official may take now."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.duties import duties_conflict
from accounts.models import Membership
from accounts.scoping import scope_for, scoped
from audit.admin_mixins import AuditedModelAdmin
from audit.services import Actor, client_ip
from common.errors import BusinessError
from eligibility.evaluator import record_rows
from programs.admin_display import amount_display, program_unit
from programs.models import Program
from vouchers.admin import ReadOnlyAdmin, VoucherAdmin
from vouchers.models import Voucher

from .bulk_issuance import (
    bulk_issuance_cancel,
    bulk_issuance_confirm,
    bulk_issuance_refusal,
    voucher_bulk_issue,
)
from .forms import BulkIssueForm
from .models import Application, BulkIssuance
from .selectors import application_duplicate_flags
from .services import (
    application_approve,
    application_reject,
    application_return,
    application_start_review,
)

REVIEW_LABELS = {
    "start_review": _("Start the review"),
    "approve": _("Approve"),
    "approve_first": _("Approve (first of two approvals)"),
    "approve_second": _("Confirm the approval (second official)"),
    "reject": _("Reject"),
    "return_for_changes": _("Return for changes"),
}
NOTE_REQUIRED = {"reject", "return_for_changes"}


class ReviewForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), widget=forms.RadioSelect)
    amount = forms.DecimalField(
        label=_("Amount to approve"),
        required=False,
        max_digits=16,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("Empty: the requested amount."),
    )
    note = forms.CharField(
        label=_("Note to the enterprise"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text=_("Required when rejecting or returning."),
    )

    def __init__(self, *args: Any, actions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["action"]
        field.choices = [(name, REVIEW_LABELS[name]) for name in actions]
        if len(actions) == 1:
            field.initial = actions[0]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("action") in NOTE_REQUIRED and not (data.get("note") or "").strip():
            self.add_error(
                "note", gettext("Write a note: the enterprise reads it to understand why.")
            )
        return data


def review_actions(application: Application, user: Any) -> list[str]:
    """The review transitions ``user`` may perform on ``application`` now."""
    return [t.name for t in application.transitions_for(user) if t.name in REVIEW_LABELS]


@admin.register(Application)
class ApplicationAdmin(AuditedModelAdmin):
    list_display = [
        "id",
        "enterprise",
        "program",
        amount_display(Application, "requested_amount", unit=program_unit),
        amount_display(Application, "approved_amount", unit=program_unit),
        "status",
        "submitted_at",
    ]
    list_display_links = ["id", "enterprise"]
    list_filter = ["status", "program__district", "program"]
    search_fields = ["enterprise__name", "enterprise__uscc"]
    list_select_related = ["enterprise", "program__district"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Application]:
        return super().get_queryset(request).exclude(status=Application.Status.DRAFT)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The review page: the application, its frozen decision, duplicate
        flags, documents, history, and only the actions allowed now."""
        if not str(object_id).isdigit():
            # No application has such an id: the admin's own answer (a
            # message and the list), as for any other model.
            return super().change_view(request, object_id, form_url, extra_context)
        application = get_object_or_404(
            self.get_queryset(request)
            .select_related("program__district", "enterprise", "first_approved_by", "rule_set")
            .prefetch_related("documents", "events__actor"),
            pk=object_id,
        )
        if not self.has_view_permission(request, application):
            raise PermissionDenied
        actions = (
            review_actions(application, request.user)
            if self.has_change_permission(request, application)
            else []
        )
        conflict = duties_conflict(user=request.user, enterprise_id=application.enterprise_id)
        if conflict is not None and request.method == "GET":
            messages.warning(request, conflict)
        form = ReviewForm(request.POST or None, actions=actions)
        if request.method == "POST" and actions and form.is_valid():
            done = self._act(request, application, form)
            if done:
                return redirect(
                    reverse("admin:applications_application_change", args=[application.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": application,
            "title": gettext("Application #%(number)s") % {"number": application.pk},
            "decision_rows": record_rows(application.eligibility_decision),
            "decision": application.eligibility_decision,
            "flags": application_duplicate_flags(application=application),
            "form": form,
            "actions": actions,
            "needs_second": application.needs_second_approval(),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "vouchers/admin/application_review.html", context)

    def _act(self, request: HttpRequest, application: Application, form: ReviewForm) -> bool:
        actor = Actor.for_user(request.user, source_ip=client_ip(request))
        action = form.cleaned_data["action"]
        note = form.cleaned_data.get("note") or ""
        try:
            if action == "start_review":
                application_start_review(actor=actor, application=application)
            elif action in {"approve", "approve_first", "approve_second"}:
                application_approve(
                    actor=actor,
                    application=application,
                    amount=form.cleaned_data.get("amount"),
                    note=note,
                )
            elif action == "reject":
                application_reject(actor=actor, application=application, note=note)
            elif action == "return_for_changes":
                application_return(actor=actor, application=application, note=note)
        except BusinessError as exc:
            field = exc.field if exc.field in form.fields else None
            form.add_error(field, str(exc.message))
            return False
        messages.success(request, gettext("Done: %(action)s.") % {"action": REVIEW_LABELS[action]})
        return True


class VoucherBulkIssueAdmin(VoucherAdmin):
    """The voucher list with bulk issuance from a CSV file: issuing is a grant,
    so it goes through the application checks of this app (rules, locality,
    caps, verification, four eyes). Same URLs as the voucher admin's."""

    def get_urls(self) -> list[Any]:
        return [
            path(
                "bulk-issue/",
                self.admin_site.admin_view(self.bulk_issue_view),
                name="vouchers_voucher_bulk_issue",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        extra["may_bulk_issue"] = bool(_bulk_programs(request).exists())
        return super().changelist_view(request, extra)

    def bulk_issue_view(self, request: HttpRequest) -> HttpResponse:
        programs = _bulk_programs(request)
        if not programs.exists():
            raise PermissionDenied
        form = BulkIssueForm(request.POST or None, request.FILES or None, programs=programs)
        report = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            report = voucher_bulk_issue(
                actor=Actor.for_user(request.user, source_ip=client_ip(request)),
                program=data["program"],
                csv_text=data["csv_text"],
                dry_run=data["validate_only"],
            )
            if report.issued:
                messages.success(
                    request,
                    ngettext("%(n)d voucher issued.", "%(n)d vouchers issued.", len(report.rows))
                    % {"n": len(report.rows)},
                )
            elif report.awaiting_second_approval and report.batch is not None:
                messages.warning(
                    request,
                    _(
                        "Nothing was issued yet: rows above the program's four-eyes threshold "
                        "need a second official. Batch #%(batch)s waits for another program "
                        "manager to confirm it."
                    )
                    % {"batch": report.batch.pk},
                )
            elif report.ok:
                messages.info(
                    request,
                    _("The file is valid: untick “only check” and send it again to issue."),
                )
            else:
                messages.error(request, _("Nothing was issued: correct the rows marked below."))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Issue vouchers from a CSV file"),
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "vouchers/voucher_admin_bulk_issue.html", context)


admin.site.unregister(Voucher)
admin.site.register(Voucher, VoucherBulkIssueAdmin)


def _bulk_programs(request: HttpRequest) -> Any:
    """Open programs of the districts where the user is a program manager."""
    scope = scope_for(request.user)
    programs = scoped(Program.objects.filter(status=Program.Status.OPEN), request.user)
    if scope.is_superuser:
        return programs
    if not request.user.has_perm("vouchers.issue_voucher"):
        return programs.none()
    return programs.filter(district__in=scope.districts_with_role(Membership.Role.PROGRAM_MANAGER))


class BulkDecisionForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when cancelling."),
    )


@admin.register(BulkIssuance)
class BulkIssuanceAdmin(ReadOnlyAdmin):
    """Bulk issuances; those above the four-eyes threshold wait here for a
    second, different program manager to confirm or cancel them."""

    list_display = ["id", "program", "total", "status", "created_by", "created_at", "decided_by"]
    list_filter = ["status"]
    list_select_related = ["program", "created_by", "decided_by"]
    readonly_fields: ClassVar[Any] = (
        "program",
        "total",
        "four_eyes_threshold",
        "status",
        "created_by",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_note",
    )
    fields = readonly_fields
    change_form_template = "vouchers/bulk_issuance_admin_change_form.html"

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="applications_bulkissuance_decide",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        batch = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if batch is not None:
            decisions = [
                action
                for action in ("confirm", "cancel")
                if bulk_issuance_refusal(batch=batch, user=request.user, action=action) is None
            ]
            extra.update(
                {
                    "batch": batch,
                    "decisions": decisions,
                    "decision_form": BulkDecisionForm(),
                    "refusal": (
                        bulk_issuance_refusal(batch=batch, user=request.user, action="confirm")
                        if batch.status == BulkIssuance.Status.AWAITING_SECOND_APPROVAL
                        else None
                    ),
                }
            )
        return super().change_view(request, object_id, form_url, extra)

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        batch = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        action = request.POST.get("decision", "")
        if action not in ("confirm", "cancel"):
            raise PermissionDenied
        change_url = reverse("admin:applications_bulkissuance_change", args=[batch.pk])
        refusal = bulk_issuance_refusal(batch=batch, user=request.user, action=action)
        if refusal is not None:
            messages.error(request, refusal)
            return HttpResponseRedirect(change_url)
        form = BulkDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for e in form.errors.get("note", [])))
            return HttpResponseRedirect(change_url)
        actor = Actor.for_user(request.user, source_ip=client_ip(request))
        note = form.cleaned_data.get("note") or ""
        try:
            if action == "confirm":
                report = bulk_issuance_confirm(actor=actor, batch=batch, note=note)
                messages.success(
                    request,
                    ngettext(
                        "Batch #%(batch)s confirmed: %(n)d voucher issued.",
                        "Batch #%(batch)s confirmed: %(n)d vouchers issued.",
                        len(report.rows),
                    )
                    % {"batch": batch.pk, "n": len(report.rows)},
                )
            else:
                bulk_issuance_cancel(actor=actor, batch=batch, note=note)
                messages.success(
                    request,
                    _("Batch #%(batch)s cancelled: nothing was issued.") % {"batch": batch.pk},
                )
        except BusinessError as exc:
            messages.error(request, str(exc.message))
        return HttpResponseRedirect(change_url)
