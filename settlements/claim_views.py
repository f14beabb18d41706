"""Enterprise portal: contracts and claims. An administrator of the
enterprise records contracts, invoices and proofs, starts a claim on a
contract under an open program, reads the subsidy's arithmetic and what
still stands in the way, declares and submits, answers a return, withdraws;
members of the enterprise read the same pages without the forms.

Every write is a service of ``settlements.claims``; a refusal is shown on the
field it names. Another enterprise's contract, claim or document answers 404,
exactly as one that does not exist.
"""

from __future__ import annotations

import contextlib

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Enterprise
from accounts.scoping import Scope, scope_for
from applications.documents import download_name
from audit import events
from audit.services import Actor, audit_record, client_ip
from common.errors import BusinessError
from programs.models import Program

from .claim_forms import (
    DECLARATION,
    ClaimStartForm,
    ClaimSubmitForm,
    ContractDocumentForm,
    ContractForm,
    InvoiceForm,
    add_refusal,
)
from .claim_rules import arithmetic_lines
from .claims import (
    CLAIM_MODES,
    claim_create,
    claim_refresh,
    claim_submit,
    claim_withdraw,
    contract_document_add,
    contract_record,
    invoice_record,
    submission_refusals,
)
from .documents import payment_notice_pdf
from .models import Claim, ClaimedInvoice, Contract, ContractDocument, Payment

Status = Claim.Status


# --- Who and what ----------------------------------------------------------------


def _scope(request: HttpRequest) -> Scope:
    return scope_for(request.user)


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, source_ip=client_ip(request))


def _no_enterprise(request: HttpRequest) -> HttpResponse:
    """Where someone who belongs to no enterprise goes instead: an assessor
    to their own page, anyone else to register their enterprise."""
    if _scope(request).assessor_district_ids:
        return redirect("assess_list")
    return redirect("enterprise_register")


def _claim_programs() -> QuerySet[Program]:
    """Open programs that pay after purchase or against a contract, whose
    claim window has not closed (Shanghai date)."""
    today = timezone.localdate()
    return (
        Program.objects.filter(status=Program.Status.OPEN, payout_mode__in=CLAIM_MODES)
        .filter(Q(claim_closes_on__isnull=True) | Q(claim_closes_on__gte=today))
        .select_related("district")
        .order_by("district__code", "name")
    )


def _own_contract(request: HttpRequest, pk: int) -> Contract:
    contract = (
        Contract.objects.filter(enterprise__in=_scope(request).enterprise_ids, pk=pk)
        .select_related("enterprise")
        .first()
    )
    if contract is None:
        raise Http404
    return contract


def _own_claim(request: HttpRequest, pk: int) -> Claim:
    claim = (
        Claim.objects.filter(enterprise__in=_scope(request).enterprise_ids, pk=pk)
        .select_related("program__district", "contract", "enterprise", "declared_by")
        .first()
    )
    if claim is None:
        raise Http404
    return claim


def _administers(request: HttpRequest, enterprise_id: int) -> bool:
    return enterprise_id in _scope(request).admin_enterprise_ids


def _refused(form: forms.Form, exc: BusinessError | PermissionDenied, **aliases: str) -> None:
    add_refusal(form, exc, aliases or None)


# --- The list --------------------------------------------------------------------


@login_required
def claim_list(request: HttpRequest) -> HttpResponse:
    """The enterprise's contracts with their claims, and the programs taking claims."""
    scope = _scope(request)
    if not scope.enterprise_ids:
        return _no_enterprise(request)
    contracts = (
        Contract.objects.filter(enterprise__in=scope.enterprise_ids)
        .select_related("enterprise")
        .prefetch_related(
            Prefetch(
                "claims",
                queryset=Claim.objects.select_related("program").order_by("-created_at", "-id"),
            )
        )
    )
    return render(
        request,
        "claims/list.html",
        {
            "contracts": contracts,
            "programs": _claim_programs(),
            "can_edit": bool(scope.admin_enterprise_ids),
        },
    )


# --- Contracts -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def contract_new(request: HttpRequest) -> HttpResponse:
    """Record a compute contract (an administrator of the enterprise)."""
    scope = _scope(request)
    if not scope.enterprise_ids:
        return _no_enterprise(request)
    if not scope.admin_enterprise_ids:
        messages.error(request, _("Only an administrator of the enterprise may record contracts."))
        return redirect("claim_list")
    enterprises = Enterprise.objects.filter(pk__in=scope.admin_enterprise_ids).order_by("name")
    form = ContractForm(request.POST or None, enterprises=enterprises)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        enterprise: Enterprise = data.get("enterprise") or enterprises[0]
        try:
            contract = contract_record(
                actor=_actor(request),
                enterprise=enterprise,
                side=data["side"],
                number=data["number"],
                counterparty_uscc=data["counterparty_uscc"],
                counterparty_name=data["counterparty_name"],
                signed_on=data["signed_on"],
                service_starts_on=data["service_starts_on"],
                service_ends_on=data["service_ends_on"],
                amount=data["amount"],
                service_kind=data["service_kind"],
                description=data["description"],
            )
        except (BusinessError, PermissionDenied) as exc:
            _refused(form, exc)
        else:
            messages.success(
                request,
                _("Contract %(number)s is recorded. Now add its invoices and proofs.")
                % {"number": contract.number},
            )
            return redirect("contract_detail", pk=contract.pk)
    return render(
        request,
        "claims/contract_form.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


def _contract_page(
    request: HttpRequest,
    contract: Contract,
    *,
    invoice_form: InvoiceForm | None = None,
    document_form: ContractDocumentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_edit = _administers(request, contract.enterprise_id)
    start_form = None
    if can_edit:
        invoice_form = invoice_form or InvoiceForm(contract=contract)
        document_form = document_form or ContractDocumentForm(contract=contract)
        start_form = ClaimStartForm(
            programs=_claim_programs(),
            contracts=Contract.objects.filter(pk=contract.pk),
            initial={"contract": contract.pk},
        )
        start_form.fields["contract"].widget = forms.HiddenInput()
    return render(
        request,
        "claims/contract_detail.html",
        {
            "contract": contract,
            "invoices": contract.invoices.all(),
            "documents": contract.documents.select_related("invoice"),
            "claims": contract.claims.select_related("program").order_by("-created_at", "-id"),
            "can_edit": can_edit,
            "invoice_form": invoice_form if can_edit else None,
            "document_form": document_form if can_edit else None,
            "start_form": start_form,
        },
        status=status,
    )


@login_required
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The contract: its details, invoices, documents, findings and claims."""
    return _contract_page(request, _own_contract(request, pk))


@login_required
@require_POST
def contract_invoice_add(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _own_contract(request, pk)
    form = InvoiceForm(request.POST, contract=contract)
    if form.is_valid():
        data = form.cleaned_data
        try:
            invoice = invoice_record(
                actor=_actor(request),
                contract=contract,
                number=data["number"],
                issued_on=data["issued_on"],
                amount=data["amount"],
                service_kind=data["service_kind"],
                paid_on=data["paid_on"],
            )
        except (BusinessError, PermissionDenied) as exc:
            _refused(form, exc)
        else:
            messages.success(
                request, _("Invoice %(number)s is recorded.") % {"number": invoice.number}
            )
            return redirect(f"{_contract_url(contract)}#invoices")
    return _contract_page(request, contract, invoice_form=form, status=400)


@login_required
@require_POST
def contract_document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _own_contract(request, pk)
    form = ContractDocumentForm(request.POST, request.FILES, contract=contract)
    if form.is_valid():
        data = form.cleaned_data
        try:
            document = contract_document_add(
                actor=_actor(request),
                contract=contract,
                kind=data["kind"],
                upload=data["file"],
                invoice=data["invoice"],
            )
        except (BusinessError, PermissionDenied) as exc:
            _refused(form, exc, document="file")
        else:
            messages.success(
                request, _("“%(name)s” is attached.") % {"name": document.original_name}
            )
            return redirect(f"{_contract_url(contract)}#documents")
    return _contract_page(request, contract, document_form=form, status=400)


def _contract_url(contract: Contract) -> str:
    return reverse("contract_detail", args=[contract.pk])


def document_response(document: ContractDocument) -> FileResponse:
    """The document as a private download named by its detected type."""
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=download_name(document.original_name, document.content_type),
        content_type=document.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def contract_document(request: HttpRequest, pk: int, document_id: int) -> FileResponse:
    """Serve a contract's document to the enterprise's members only."""
    document = ContractDocument.objects.filter(
        pk=document_id, contract_id=pk, contract__enterprise__in=_scope(request).enterprise_ids
    ).first()
    if document is None:
        raise Http404
    return document_response(document)


# --- Claims ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def claim_start(request: HttpRequest) -> HttpResponse:
    """Choose the program and the contract; a draft claim is computed."""
    scope = _scope(request)
    if not scope.enterprise_ids:
        return _no_enterprise(request)
    if not scope.admin_enterprise_ids:
        messages.error(request, _("Only an administrator of the enterprise may claim."))
        return redirect("claim_list")
    contracts = Contract.objects.filter(enterprise__in=scope.admin_enterprise_ids)
    form = ClaimStartForm(
        request.POST or None,
        programs=_claim_programs(),
        contracts=contracts,
        initial={k: request.GET[k] for k in ("program", "contract") if request.GET.get(k)},
    )
    if request.method == "POST" and form.is_valid():
        program, contract = form.cleaned_data["program"], form.cleaned_data["contract"]
        draft = Claim.objects.filter(
            program=program, contract=contract, status__in=Claim.EDITABLE
        ).first()
        if draft is not None:
            messages.info(request, _("This contract already has a claim in this program."))
            return redirect("claim_detail", pk=draft.pk)
        try:
            claim = claim_create(actor=_actor(request), program=program, contract=contract)
        except (BusinessError, PermissionDenied) as exc:
            _refused(form, exc)
        else:
            return redirect("claim_detail", pk=claim.pk)
    return render(
        request,
        "claims/claim_start.html",
        {"form": form, "has_contracts": contracts.exists()},
        status=400 if form.errors else 200,
    )


def progress(claim: Claim) -> list[tuple[str, str]]:
    """The steps of the claim's review as (label, "done" | "current" | "")."""
    steps: list[tuple[str, str]] = [
        (Status.DRAFT, _("Draft")),
        (Status.SUBMITTED, _("Submitted")),
        (Status.CHECKING, _("District check")),
    ]
    if claim.program.claim_requires_assessment:
        steps.append((Status.ASSESSMENT, _("Assessment")))
    steps.append((Status.FINANCE, _("Finance approval")))
    steps.append((Status.APPROVED, _("Decision")))
    if claim.stage != Claim.Stage.PREAPPROVAL:
        steps.append((Status.PAID, _("Paid")))
    at = {
        Status.RETURNED: Status.CHECKING,
        Status.REJECTED: Status.APPROVED,
        Status.WITHDRAWN: Status.APPROVED,
    }.get(claim.status, claim.status)
    keys = [key for key, _label in steps]
    position = keys.index(at) if at in keys else len(keys) - 1
    return [
        (label, "done" if i < position else "current" if i == position else "")
        for i, (_key, label) in enumerate(steps)
    ]


def _claim_page(
    request: HttpRequest, claim: Claim, form: ClaimSubmitForm | None, *, status: int = 200
) -> HttpResponse:
    editable = claim.may_edit(request.user)
    lines = arithmetic_lines(claim.arithmetic)
    checked_lines = arithmetic_lines(claim.checked_arithmetic)
    contract = claim.contract
    return render(
        request,
        "claims/claim_detail.html",
        {
            "claim": claim,
            "program": claim.program,
            "contract": contract,
            "lines": lines[:-1],
            "total": lines[-1] if lines else None,
            "checked_lines": checked_lines[:-1],
            "checked_total": checked_lines[-1] if checked_lines else None,
            "refusals": submission_refusals(claim) if editable else [],
            "form": form if editable else None,
            "can_edit": editable,
            "progress": progress(claim),
            "invoices": contract.invoices.all(),
            "documents": contract.documents.select_related("invoice"),
            "excluded": ClaimedInvoice.objects.filter(claim=claim, excluded=True),
            "payments": claim.payments.all(),
            "declaration_text": DECLARATION,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def claim_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The claim: status, arithmetic, refusals, declaration and payee, review outcome."""
    claim = _own_claim(request, pk)
    editable = claim.may_edit(request.user)
    form = ClaimSubmitForm(
        request.POST or None,
        initial={"payee_bank": claim.payee_bank, "payee_account": claim.payee_account},
    )
    if request.method == "POST":
        if not editable:
            if claim.status in Claim.EDITABLE:
                messages.error(request, _("Only an administrator of the enterprise may submit it."))
            else:
                messages.info(request, _("This claim can no longer be changed."))
            return redirect("claim_detail", pk=pk)
        if form.is_valid():
            data = form.cleaned_data
            try:
                claim = claim_submit(
                    actor=_actor(request),
                    claim=claim,
                    declaration=data["declaration"],
                    payee_bank=data["payee_bank"],
                    payee_account=data["payee_account"],
                )
            except (BusinessError, PermissionDenied) as exc:
                _refused(form, exc)
            else:
                messages.success(
                    request,
                    _("Claim #%(number)s is submitted; the district checks it next.")
                    % {"number": claim.pk},
                )
                return redirect("claim_detail", pk=pk)
        claim = _own_claim(request, pk)
        return _claim_page(request, claim, form, status=400)
    if editable:
        # The contract's invoices may have changed since the claim was computed.
        with contextlib.suppress(BusinessError, PermissionDenied):
            claim_refresh(actor=_actor(request), claim=claim)
        claim = _own_claim(request, pk)
    return _claim_page(request, claim, form)


@login_required
@require_POST
def claim_withdraw_view(request: HttpRequest, pk: int) -> HttpResponse:
    claim = _own_claim(request, pk)
    try:
        claim_withdraw(actor=_actor(request), claim=claim)
    except BusinessError as exc:
        messages.error(request, str(exc.message))
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
    else:
        messages.success(request, _("The claim is withdrawn."))
    return redirect("claim_detail", pk=pk)


@login_required
@require_http_methods(["GET"])
def claim_payment_notice(request: HttpRequest, pk: int, payment_id: int) -> HttpResponse:
    """The district's notice of one payment of the claim, as PDF (``?lang=``
    zh-hans or en, else the page's language); the download is audited."""
    claim = _own_claim(request, pk)
    payment = Payment.objects.filter(claim=claim, pk=payment_id).first()
    if payment is None:
        raise Http404
    languages = {code for code, _name in settings.LANGUAGES}
    language = request.GET.get("lang") or get_language() or settings.LANGUAGE_CODE
    language = language if language in languages else settings.LANGUAGE_CODE
    content = payment_notice_pdf(payment, language=language)
    audit_record(
        actor=_actor(request),
        event_type=events.CLAIM_EXPORTED,
        obj=claim,
        district_id=claim.program.district_id,
        enterprise_id=claim.enterprise_id,
        after={"document": "payment_notice", "language": language, "payment": payment.pk},
    )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="payment-claim-{claim.pk}-{payment.pk}.pdf"'
    )
    return response
