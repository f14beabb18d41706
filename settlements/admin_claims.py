"""The officials' claim pages in the admin, after the settlements' pages
(``settlements.admin``).

A claim's page says where it stands and offers only the steps this official
may take now (the model's role predicates and its transitions' conditions and
permissions): take it up, leave an invoice out, return, reject, pass it on,
approve (four eyes above the threshold) and record a payment. It shows the
arithmetic of the claim and of the check, the contract with its invoices and
documents, the findings, the claimant's declaration, the payments and the
audit history.

Nothing is edited by hand: every step is a POST that calls a service of
``settlements.claims``, which checks the role in the program's own district
again and refuses with a reason shown here. Assessors are no officials: they
never enter the admin. Contracts (``admin_contracts``) and performance
agreements with their receivables (``admin_agreements``) register below.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from audit.services import Actor
from common.errors import BusinessError
from common.formatting import amount
from vouchers.admin import ReadOnlyAdmin

from .admin import _labels, _refusal, _who_when
from .admin_pages import (
    AssessorField,
    actor_of,
    assessors_of,
    date_field,
    event_history,
    moment_display,
    money_display,
    money_field,
    run_step_form,
    serve_document,
    step_page,
    text_field,
)
from .claim_rules import arithmetic_lines
from .claims import (
    claim_approve,
    claim_exclude_invoice,
    claim_pass_on,
    claim_payment_record,
    claim_reject,
    claim_return,
    claim_start_check,
)
from .models import Claim, Contract, ContractDocument, Invoice, PerformanceAgreement
from .selectors import claim_steps

CLAIM_STEPS = {
    "start_check": _("Take it up for the district's check"),
    "exclude_invoice": _("Leave an invoice out"),
    "return_for_changes": _("Return for changes"),
    "reject": _("Reject the claim"),
    "pass_on": _("Pass on"),
    "approve": _("Approve"),
    "approve_first": _("Approve (first of two approvals)"),
    "approve_second": _("Confirm the approval (second finance officer)"),
    "record_payment": _("Record a payment"),
}
#: Steps taken with one button; the others ask for a reason, findings or a payment.
CLAIM_BUTTONS = ("start_check", "approve")
CLAIM_FORMS = ("exclude_invoice", "return_for_changes", "reject", "pass_on", "record_payment")


def claim_step_label(claim: Claim, step: str) -> str:
    if step == "pass_on":
        if claim.program.claim_requires_assessment:
            return gettext("Pass on to the assessor")
        return gettext("Pass on to finance")
    return str(CLAIM_STEPS[step])


def claim_next_step(claim: Claim) -> str:
    """Where the claim stands and what it waits for, in words."""
    status, Status = claim.status, Claim.Status
    if status == Status.DRAFT:
        return gettext("A draft: the claimant has not submitted it.")
    if status == Status.SUBMITTED:
        return gettext("Waiting for a reviewer of the district to take it up.")
    if status == Status.CHECKING:
        return gettext(
            "Under the district's check: authenticity, completeness, duplicates and credit. "
            "The reviewer may leave invoices out, then passes it on, returns or rejects it."
        )
    if status == Status.RETURNED:
        return gettext("Returned: waiting for the claimant to correct it and submit it again.")
    if status == Status.ASSESSMENT:
        return gettext("With the assessor %(assessor)s: waiting for their findings.") % {
            "assessor": claim.assessor
        }
    if status == Status.FINANCE and claim.first_approved_at is not None:
        return gettext("Waiting for a second finance officer to confirm the approval.")
    if status == Status.FINANCE:
        return gettext("Waiting for a finance officer's approval of %(amount)s.") % {
            "amount": amount(claim.amount_for_approval, claim.unit)
        }
    if status == Status.APPROVED and claim.stage == Claim.Stage.PREAPPROVAL:
        return gettext("Approved: the voucher for the contract is granted.")
    if status == Status.APPROVED:
        return gettext("Approved: waiting for payment of %(left)s.") % {
            "left": amount(claim.outstanding, claim.unit)
        }
    if status == Status.PAID:
        return gettext("Paid in full.")
    if status == Status.REJECTED:
        return gettext("Rejected: %(reason)s") % {"reason": claim.rejection_reason}
    return gettext("Withdrawn by the claimant.")


def four_eyes(claim: Claim) -> str:
    """Whether the claim's approval takes one finance officer or two."""
    threshold = claim.four_eyes_threshold
    if threshold is None or claim.status not in (Claim.Status.FINANCE, *Claim.DECIDED):
        return ""
    figures = {
        "amount": amount(claim.amount_for_approval, claim.unit),
        "threshold": amount(threshold, claim.unit),
    }
    if not claim.needs_second_approval():
        return gettext("%(amount)s is not above %(threshold)s: one finance officer approves.") % (
            figures
        )
    if claim.first_approved_at is None:
        return (
            gettext(
                "%(amount)s is above %(threshold)s: two different finance officers approve, "
                "neither the reviewer who checked it."
            )
            % figures
        )
    return gettext("First approval by %(who)s on %(when)s; a different officer confirms it.") % {
        "who": claim.first_approved_by,
        "when": f"{timezone.localtime(claim.first_approved_at):%Y-%m-%d %H:%M}",
    }


# --- Forms ----------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = text_field(_("Reason"), _("The claimant reads it."))


class ExcludeInvoiceForm(forms.Form):
    number = forms.ChoiceField(label=_("Invoice"))
    reason = text_field(_("Reason"), _("The claimant reads it."))

    def __init__(self, *args: Any, claim: Claim, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        held = claim.claimed_invoices.filter(excluded=False).select_related("invoice")
        cast(forms.ChoiceField, self.fields["number"]).choices = [
            (c.number, f"{c.number} · {amount(c.invoice.amount)}") for c in held
        ]


class PassOnForm(forms.Form):
    findings = text_field(
        _("Findings of the check"),
        _("What was checked: authenticity, completeness, duplicates, credit."),
    )
    assessor = AssessorField(label=_("Assessor"), queryset=User.objects.none())

    def __init__(self, *args: Any, claim: Claim, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if claim.program.claim_requires_assessment:
            field = cast(forms.ModelChoiceField, self.fields["assessor"])
            field.queryset = assessors_of(claim.program.district_id)
        else:
            del self.fields["assessor"]


class PaymentForm(forms.Form):
    amount = money_field(_("Amount paid"))
    paid_on = date_field(_("Paid on"))
    payer_account = forms.CharField(
        label=_("Payer account"), max_length=100, widget=forms.TextInput(attrs={"size": 44})
    )
    bank_reference = forms.CharField(
        label=_("Bank reference"), max_length=100, widget=forms.TextInput(attrs={"size": 30})
    )


# --- The claims ------------------------------------------------------------------------


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    """Read-only rows; the review steps are buttons and forms of their own
    (``claim_steps``), each calling its service."""

    list_display = [
        "id",
        "enterprise",
        "program",
        "stage",
        "status",
        *(money_display(Claim, f) for f in ("claimed_amount", "approved_amount", "paid_amount")),
        moment_display(Claim, "submitted_at"),
    ]
    list_display_links = ["id", "enterprise"]
    list_filter = ["status", "program"]
    search_fields = ["enterprise__name", "enterprise__uscc", "contract__number"]
    list_select_related = ["enterprise", "program__district"]
    empty_value_display = "—"
    change_form_template = "settlements/admin/claim_change_form.html"
    fieldsets: ClassVar[Any] = [
        (None, {"fields": ["enterprise", "program", "stage", "status", "contract_link"]}),
        (
            _("Figures"),
            {
                "fields": [
                    money_display(Claim, "claimed_amount"),
                    money_display(Claim, "checked_amount"),
                    money_display(Claim, "recommended_amount"),
                    money_display(Claim, "approved_amount"),
                    money_display(Claim, "paid_amount"),
                    "outstanding_amount",
                ]
            },
        ),
        (_("Paid to"), {"fields": ["payee_bank", "payee_account"]}),
        (
            _("Check, assessment and approval"),
            {
                "fields": [
                    moment_display(Claim, "check_started_at"),
                    _who_when("checked_by", "checked_at", _("Checked")),
                    "check_findings",
                    "returned",
                    "rejected",
                    "assessor",
                    "assessment_findings",
                    moment_display(Claim, "assessed_at"),
                    money_display(Claim, "four_eyes_threshold"),
                    _who_when("first_approved_by", "first_approved_at", _("First approval")),
                    _who_when("approved_by", "approved_at", _("Approved")),
                    moment_display(Claim, "paid_at"),
                ]
            },
        ),
    ]
    readonly_fields: ClassVar[Any] = [f for _name, options in fieldsets for f in options["fields"]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Claim]:
        return (
            super()
            .get_queryset(request)
            .select_related("enterprise", "program__district", "contract", "assessor")
        )

    @admin.display(description=_("contract"))
    def contract_link(self, obj: Claim) -> str:
        url = reverse("admin:settlements_contract_change", args=[obj.contract_id])
        return format_html('<a href="{}">{}</a>', url, obj.contract)

    @admin.display(description=_("still to pay"))
    def outstanding_amount(self, obj: Claim) -> str:
        if obj.approved_amount is None:
            return self.empty_value_display
        return format_html('<span class="amount">{}</span>', amount(obj.outstanding, obj.unit))

    @admin.display(description=_("Returned for changes"))
    def returned(self, obj: Claim) -> str:
        if obj.returned_at is None:
            return "—"
        return f"{timezone.localtime(obj.returned_at):%Y-%m-%d %H:%M} · {obj.return_reason}"

    @admin.display(description=_("Rejected"))
    def rejected(self, obj: Claim) -> str:
        if obj.rejected_at is None:
            return "—"
        return f"{timezone.localtime(obj.rejected_at):%Y-%m-%d %H:%M} · {obj.rejection_reason}"

    # --- The page ------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        urls = [
            path(
                f"<int:pk>/{step.replace('_', '-')}/",
                wrap(self.step_view if step in CLAIM_BUTTONS else self.form_view),
                {"step": step},
                name=f"settlements_claim_{step}",
            )
            for step in (*CLAIM_BUTTONS, *CLAIM_FORMS)
        ]
        urls.append(
            path(
                "<int:pk>/documents/<int:document_id>/",
                wrap(self.document_view),
                name="settlements_claim_document",
            )
        )
        return [*urls, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        claim = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if claim is not None and self.has_view_permission(request, claim):
            extra.update(self._page(request, claim))
        return super().change_view(request, object_id, form_url, extra)

    def _page(self, request: HttpRequest, claim: Claim) -> dict[str, Any]:
        user = request.user
        steps = claim_steps(claim, user)
        contract = claim.contract
        held = {c.number: c for c in claim.claimed_invoices.all()}
        invoices = []
        for invoice in contract.invoices.all():
            row = held.get(invoice.number)
            invoices.append({"invoice": invoice, "held": row})
        agreement = PerformanceAgreement.objects.filter(claim=claim).first()
        return {
            "claim": claim,
            "steps": steps,
            "offers": [
                {
                    "label": claim_step_label(claim, step),
                    "url": _claim_url(claim, step),
                    "post": step in CLAIM_BUTTONS or step.startswith("approve"),
                }
                for step in steps
            ],
            "next_step": claim_next_step(claim),
            "four_eyes": four_eyes(claim),
            "flags": [flag.get("message", "") for flag in claim.flags or []],
            "arithmetic": arithmetic_lines(claim.arithmetic),
            "checked_arithmetic": arithmetic_lines(claim.checked_arithmetic),
            "contract": contract,
            "contract_labels": _labels(Contract),
            "invoice_labels": _labels(Invoice),
            "invoices": invoices,
            "documents": [
                {"document": d, "url": _claim_url(claim, "document", document=d)}
                for d in contract.documents.select_related("invoice", "uploaded_by")
            ],
            "document_labels": _labels(ContractDocument),
            "payments": claim.payments.select_related("recorded_by", "batch"),
            "agreement": agreement,
            "history": event_history(claim),
            "gave_first_approval": claim.status == Claim.Status.FINANCE
            and claim.first_approved_by_id == user.pk,
            "checked_it": claim.status == Claim.Status.FINANCE and claim.checked_by_id == user.pk,
        }

    # --- The steps ----------------------------------------------------------

    def _claim(self, request: HttpRequest, pk: int) -> Claim:
        """The claim, if the user sees it (404 otherwise; 403 without the view)."""
        claim = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, claim):
            raise PermissionDenied
        return claim

    def document_view(self, request: HttpRequest, pk: int, document_id: int) -> FileResponse:
        """A document of the claim's contract, to whoever may see the claim."""
        claim = self._claim(request, pk)
        document = ContractDocument.objects.filter(
            pk=document_id, contract_id=claim.contract_id
        ).first()
        if document is None:
            raise Http404
        return serve_document(document)

    def step_view(self, request: HttpRequest, pk: int, step: str) -> HttpResponse:
        """Take it up or approve: one POST, one service."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        claim = self._claim(request, pk)
        actor = actor_of(request)
        try:
            if step == "start_check":
                claim_start_check(actor=actor, claim=claim)
                done = gettext("Taken up: check the claim, then pass it on, return or reject it.")
            else:
                claim = claim_approve(actor=actor, claim=claim)
                if claim.status == Claim.Status.FINANCE:
                    done = gettext(
                        "First approval recorded: another finance officer must confirm it."
                    )
                else:
                    done = gettext("Approved: %(amount)s.") % {
                        "amount": amount(claim.approved_amount, claim.unit)
                    }
        except (BusinessError, PermissionDenied) as exc:
            messages.error(request, _refusal(exc))
        else:
            messages.success(request, done)
        return redirect(_claim_url(claim))

    def form_view(self, request: HttpRequest, pk: int, step: str) -> HttpResponse:
        """Leave an invoice out, return, reject, pass on or record a payment:
        a form, then its service; the form again with the refusal beside its field."""
        claim = self._claim(request, pk)
        back = _claim_url(claim)
        label = claim_step_label(claim, step)
        if step not in claim_steps(claim, request.user):
            messages.error(
                request,
                gettext("%(step)s is not possible for you on this claim now.") % {"step": label},
            )
            return redirect(back)
        data = request.POST if request.method == "POST" else None
        form: forms.Form
        if step == "exclude_invoice":
            form = ExcludeInvoiceForm(
                data, claim=claim, initial={"number": request.GET.get("number", "")}
            )
        elif step == "pass_on":
            form = PassOnForm(data, claim=claim)
        elif step == "record_payment":
            form = PaymentForm(
                data, initial={"amount": claim.outstanding, "paid_on": timezone.localdate()}
            )
        else:
            form = ReasonForm(data)
        actor = actor_of(request)
        answer = run_step_form(request, form, lambda data: _take(actor, claim, step, data), back)
        if answer is not None:
            return answer
        return step_page(
            request,
            self,
            claim,
            step=step,
            step_label=label,
            form=form,
            facts=_claim_facts(claim, step),
            change_url=back,
            changelist_url=reverse("admin:settlements_claim_changelist"),
        )


def _take(actor: Actor, claim: Claim, step: str, data: dict[str, Any]) -> str:
    """Call the step's service; the success message."""
    if step == "exclude_invoice":
        claim = claim_exclude_invoice(
            actor=actor, claim=claim, number=data["number"], reason=data["reason"]
        )
        return gettext("Invoice %(number)s left out: %(amount)s after the check.") % {
            "number": data["number"],
            "amount": amount(claim.checked_amount, claim.unit),
        }
    if step == "return_for_changes":
        claim_return(actor=actor, claim=claim, reason=data["reason"])
        return gettext("Returned to the claimant for changes.")
    if step == "reject":
        claim_reject(actor=actor, claim=claim, reason=data["reason"])
        return gettext("The claim is rejected; its contract and invoices are free again.")
    if step == "pass_on":
        claim = claim_pass_on(
            actor=actor, claim=claim, findings=data["findings"], assessor=data.get("assessor")
        )
        if claim.status == Claim.Status.ASSESSMENT:
            return gettext("Passed on to the assessor %(assessor)s.") % {"assessor": claim.assessor}
        return gettext("Passed on to finance for approval.")
    payment = claim_payment_record(
        actor=actor,
        claim=claim,
        amount=data["amount"],
        paid_on=data["paid_on"],
        payer_account=data["payer_account"],
        bank_reference=data["bank_reference"],
    )
    claim.refresh_from_db()
    if claim.status == Claim.Status.PAID:
        return gettext("Payment of %(amount)s recorded: the claim is paid in full.") % {
            "amount": amount(payment.amount, claim.unit)
        }
    return gettext("Payment of %(amount)s recorded; %(left)s is still to pay.") % {
        "amount": amount(payment.amount, claim.unit),
        "left": amount(claim.outstanding, claim.unit),
    }


def _claim_facts(claim: Claim, step: str) -> list[tuple[Any, Any]]:
    labels = _labels(Claim)
    facts: list[tuple[Any, Any]] = [
        (labels["enterprise"], claim.enterprise),
        (labels["program"], f"{claim.program} ({claim.program.district})"),
        (labels["contract"], claim.contract),
        (labels["status"], claim.get_status_display()),
        (labels["claimed_amount"], amount(claim.claimed_amount, claim.unit)),
    ]
    if claim.checked_amount is not None:
        facts.append((labels["checked_amount"], amount(claim.checked_amount, claim.unit)))
    if step == "record_payment":
        facts += [
            (labels["approved_amount"], amount(claim.approved_amount, claim.unit)),
            (labels["paid_amount"], amount(claim.paid_amount, claim.unit)),
            (gettext("still to pay"), amount(claim.outstanding, claim.unit)),
            (labels["payee_bank"], claim.payee_bank),
            (labels["payee_account"], claim.payee_account),
        ]
    return facts


def _claim_url(claim: Claim, step: str = "change", **kwargs: Any) -> str:
    """The address of the claim's page, of one of its steps, or of a document."""
    if step == "document":
        return reverse("admin:settlements_claim_document", args=[claim.pk, kwargs["document"].pk])
    # The first and the second approval are taken at the one approval address.
    name = "approve" if step.startswith("approve") else step
    return reverse(f"admin:settlements_claim_{name}", args=[claim.pk])


# Contracts, read-only with their invoices and documents; performance
# agreements with their receivables' repayments and write-offs.
from . import admin_agreements, admin_contracts  # noqa: E402,F401
