"""The pieces the officials' claim, contract and agreement pages share in the
admin (``settlements.admin_claims``, ``admin_contracts``, ``admin_agreements``):
the form of a step under its object's page, a step's service called with the
form's data and its refusal shown, the audit history in words, documents
streamed to whoever may see them, and read-only inlines."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_scoping import ScopedInline
from accounts.models import Membership, User
from applications.documents import download_name
from audit import events
from audit.models import AuditEvent
from audit.object_types import object_type_of
from audit.services import Actor, client_ip
from common.errors import BusinessError
from common.formatting import amount
from programs.admin_display import amount_display, own_unit

from .admin import _refusal
from .models import ContractDocument

EVENT_LABELS = {
    events.CLAIM_CREATED: _("Drafted by the claimant"),
    events.CLAIM_SUBMITTED: _("Submitted with the declaration"),
    events.CLAIM_WITHDRAWN: _("Withdrawn by the claimant"),
    events.CLAIM_SUPERSEDED: _("Superseded by the side with priority"),
    events.CLAIM_CHECK_STARTED: _("Taken up for the district's check"),
    events.CLAIM_INVOICE_EXCLUDED: _("Invoice left out"),
    events.CLAIM_RETURNED: _("Returned for changes"),
    events.CLAIM_REJECTED: _("Rejected"),
    events.CLAIM_PASSED_TO_ASSESSOR: _("Passed on to the assessor"),
    events.CLAIM_PASSED_TO_FINANCE: _("Passed on to finance"),
    events.CLAIM_ASSESSED: _("Assessed"),
    events.CLAIM_FIRST_APPROVAL: _("First approval"),
    events.CLAIM_APPROVED: _("Approved"),
    events.CLAIM_PAYMENT_RECORDED: _("Payment recorded"),
    events.CLAIM_PAID: _("Paid in full"),
    events.CLAIM_EXPORTED: _("Payment notice downloaded by the claimant"),
    events.AGREEMENT_CREATED: _("Agreement in force"),
    events.AGREEMENT_ASSIGNED: _("Given to an assessor"),
    events.AGREEMENT_ASSESSED: _("Assessed"),
    events.AGREEMENT_DECIDED: _("Decided"),
    events.RECEIVABLE_CREATED: _("Clawback receivable raised"),
    events.RECEIVABLE_REPAID: _("Repayment recorded"),
    events.RECEIVABLE_WRITTEN_OFF: _("Written off"),
    events.RECEIVABLE_REMINDED: _("Reminder sent"),
}


def text_field(label: Any, help_text: Any = "", *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=2000,
        required=required,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text=help_text,
    )


def money_field(label: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, max_digits=16, decimal_places=2, min_value=Decimal("0.01")
    )


def date_field(label: Any) -> forms.DateField:
    return forms.DateField(label=label, widget=forms.DateInput(attrs={"type": "date"}))


def assessors_of(district_id: int) -> QuerySet[User]:
    """The active people the district engaged as assessors."""
    return (
        User.objects.filter(
            is_active=True,
            memberships__role=Membership.Role.ASSESSOR,
            memberships__district_id=district_id,
        )
        .distinct()
        .order_by("email")
    )


class AssessorField(forms.ModelChoiceField):
    """An assessor, named with their e-mail address (names may repeat)."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} · {obj.email}" if str(obj) != obj.email else str(obj.email)


def moment_display(model: Any, field: str) -> Any:
    """A date or time field as the rest of the page writes moments (China
    Standard Time, "Y-m-d H:i"), not in the locale's long format."""
    label = model._meta.get_field(field).verbose_name

    def show(obj: Any) -> str:
        value = getattr(obj, field)
        if value is None:
            return "—"
        if isinstance(value, datetime.datetime):
            return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
        return f"{value:%Y-%m-%d}"

    show.__name__ = field
    return admin.display(description=label, ordering=field)(show)


def money_display(model: Any, field: str) -> Any:
    """An amount column or read-only field in the object's unit."""
    return amount_display(model, field, unit=own_unit)


def event_history(*objects: Any) -> list[dict[str, Any]]:
    """The objects' events from the audit log, oldest first, in words."""
    wanted = Q(pk__in=[])
    for obj in objects:
        if obj is not None:
            wanted |= Q(object_type=object_type_of(obj), object_id=str(obj.pk))
    rows = []
    for event in AuditEvent.objects.filter(wanted).order_by("id"):
        after = event.after or {}
        detail = ""
        if event.event_type == events.CLAIM_INVOICE_EXCLUDED:
            detail = str(after.get("invoice", ""))
        elif event.event_type == events.CLAIM_PASSED_TO_ASSESSOR:
            detail = str(after.get("assessor") or "")
        elif event.event_type == events.CLAIM_PAYMENT_RECORDED and after.get("amount"):
            detail = f"{amount(after['amount'])} · {after.get('bank_reference', '')}"
        elif event.event_type == events.RECEIVABLE_REPAID and after.get("paid"):
            detail = f"{amount(after['paid'])} · {after.get('reference', '')}"
        elif event.event_type == events.RECEIVABLE_WRITTEN_OFF and after.get("written_off_now"):
            detail = amount(after["written_off_now"])
        elif event.event_type == events.AGREEMENT_DECIDED and after.get("clawback"):
            detail = gettext("clawback %(amount)s") % {"amount": amount(after["clawback"])}
        actor = event.actor_label
        if event.actor_kind != AuditEvent.ActorKind.USER:
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


def serve_document(document: ContractDocument) -> FileResponse:
    """Stream a contract's document, named by the type its content was detected as."""
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=download_name(document.original_name, document.content_type),
        content_type=document.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    return response


def actor_of(request: HttpRequest) -> Actor:
    """The signed-in official, as the services' audit records them."""
    return Actor.for_user(request.user, source_ip=client_ip(request))


def step_page(request: HttpRequest, model_admin: Any, obj: Any, **context: Any) -> TemplateResponse:
    """A step's form, under the object's page."""
    return TemplateResponse(
        request,
        "settlements/admin/claim_step.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "original": obj,
            "title": f"{context['step_label']} · {obj}",
            **context,
        },
    )


def run_step_form(
    request: HttpRequest, form: forms.Form, take: Any, back: str
) -> HttpResponse | None:
    """Call the step's service with the valid form's data: back to the
    object's page with what was done, or with the refusal (beside its field
    when it names one: then None, and the form is shown again)."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        done = take(form.cleaned_data)
    except BusinessError as exc:
        if exc.field not in form.fields:
            messages.error(request, str(exc.message))
            return redirect(back)
        form.add_error(exc.field, str(exc.message))
        return None
    except PermissionDenied as exc:
        messages.error(request, _refusal(exc))
        return redirect(back)
    messages.success(request, done)
    return redirect(back)


class ReadOnlyInline(ScopedInline):
    """Rows of the parent written only by services: shown, never added or changed."""

    # "ledger" lets admin.css drop the caption Django puts over each row (the
    # row's str()), which only repeats the columns.
    classes = ["ledger"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
