"""The assessor's pages: the claims and performance agreements a district
assigned to them, each with what the assessment needs (the contract, its
invoices and documents, the arithmetic, the district's check), and the forms
that record their findings.

An assessor is engaged by a district, not one of its officials: they see only
what is assigned to them, and only while they remain that district's
assessor. For anyone else every one of these pages answers 404, as for an
object that does not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.scoping import scope_for
from audit.services import Actor, client_ip
from common.errors import BusinessError

from .claim_forms import AgreementAssessmentForm, AssessmentForm, add_refusal
from .claim_rules import arithmetic_lines
from .claim_views import document_response
from .claims import claim_assess
from .models import Claim, ClaimedInvoice, ContractDocument, PerformanceAgreement


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, source_ip=client_ip(request))


def _assigned_claims(request: HttpRequest) -> QuerySet[Claim]:
    """Claims assigned to the user by a district that engages them as assessor."""
    scope = scope_for(request.user)
    if not scope.assessor_district_ids or scope.user_id is None:
        raise Http404
    return Claim.objects.filter(
        assessor_id=scope.user_id, program__district__in=scope.assessor_district_ids
    )


def _assigned_agreements(request: HttpRequest) -> QuerySet[PerformanceAgreement]:
    scope = scope_for(request.user)
    if not scope.assessor_district_ids or scope.user_id is None:
        raise Http404
    return PerformanceAgreement.objects.filter(
        assessor_id=scope.user_id, program__district__in=scope.assessor_district_ids
    )


def _assigned_claim(request: HttpRequest, pk: int) -> Claim:
    claim = (
        _assigned_claims(request)
        .select_related("program__district", "contract", "enterprise", "checked_by")
        .filter(pk=pk)
        .first()
    )
    if claim is None:
        raise Http404
    return claim


@login_required
def assess_list(request: HttpRequest) -> HttpResponse:
    """The claims and agreements assigned to the assessor, those awaiting them first."""
    claims = (
        _assigned_claims(request)
        .select_related("program__district", "contract", "enterprise")
        .order_by("-checked_at", "-id")
    )
    agreements = (
        _assigned_agreements(request)
        .select_related("program__district", "enterprise")
        .order_by("assess_on", "id")
    )
    return render(
        request,
        "claims/assess_list.html",
        {
            "waiting_claims": [c for c in claims if c.status == Claim.Status.ASSESSMENT],
            "other_claims": [c for c in claims if c.status != Claim.Status.ASSESSMENT],
            "waiting_agreements": [
                a for a in agreements if a.status == PerformanceAgreement.Status.ASSESSMENT
            ],
            "other_agreements": [
                a for a in agreements if a.status != PerformanceAgreement.Status.ASSESSMENT
            ],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def assess_claim(request: HttpRequest, pk: int) -> HttpResponse:
    """One assigned claim, and the form recording findings and the recommended amount."""
    claim = _assigned_claim(request, pk)
    can_assess = claim.status == Claim.Status.ASSESSMENT and claim.may_assess(request.user)
    ceiling = claim.checked_amount if claim.checked_amount is not None else claim.claimed_amount
    form = AssessmentForm(request.POST or None, initial={"recommended": ceiling})
    if request.method == "POST":
        if not can_assess:
            messages.info(request, _("This claim is not awaiting your assessment."))
            return redirect("assess_claim", pk=pk)
        if form.is_valid():
            try:
                claim_assess(
                    actor=_actor(request),
                    claim=claim,
                    findings=form.cleaned_data["findings"],
                    recommended=form.cleaned_data["recommended"],
                )
            except (BusinessError, PermissionDenied) as exc:
                add_refusal(form, exc)
            else:
                messages.success(
                    request,
                    _("Your assessment of claim #%(number)s is recorded; it goes to finance.")
                    % {"number": claim.pk},
                )
                return redirect("assess_claim", pk=pk)
    contract = claim.contract
    lines = arithmetic_lines(claim.checked_arithmetic or claim.arithmetic)
    return render(
        request,
        "claims/assess_claim.html",
        {
            "claim": claim,
            "program": claim.program,
            "contract": contract,
            "invoices": contract.invoices.all(),
            "documents": contract.documents.select_related("invoice"),
            "lines": lines[:-1],
            "total": lines[-1] if lines else None,
            "excluded": ClaimedInvoice.objects.filter(claim=claim, excluded=True),
            "ceiling": ceiling,
            "form": form if can_assess else None,
        },
        status=400 if form.errors else 200,
    )


@login_required
def assess_claim_document(request: HttpRequest, pk: int, document_id: int) -> FileResponse:
    """A document of an assigned claim's contract, for the assigned assessor only."""
    claim = _assigned_claim(request, pk)
    document = ContractDocument.objects.filter(
        pk=document_id, contract_id=claim.contract_id
    ).first()
    if document is None:
        raise Http404
    return document_response(document)


@login_required
@require_http_methods(["GET", "POST"])
def assess_agreement(request: HttpRequest, pk: int) -> HttpResponse:
    """One assigned agreement, and the form recording measured values and the report."""
    agreement = (
        _assigned_agreements(request)
        .select_related("program__district", "enterprise", "claim__contract")
        .filter(pk=pk)
        .first()
    )
    if agreement is None:
        raise Http404
    obligations = list(agreement.obligations.order_by("id"))
    can_assess = (
        agreement.status == PerformanceAgreement.Status.ASSESSMENT
        and agreement.may_assess(request.user)
    )
    form = AgreementAssessmentForm(request.POST or None, obligations=obligations)
    if request.method == "POST":
        if not can_assess:
            messages.info(request, _("This agreement is not awaiting your assessment."))
            return redirect("assess_agreement", pk=pk)
        if form.is_valid():
            # Written beside this page; imported here so the page loads without it.
            from .agreements import agreement_record_assessment

            try:
                agreement_record_assessment(
                    actor=_actor(request),
                    agreement=agreement,
                    measured=form.measured(),
                    report=form.cleaned_data["report"],
                )
            except BusinessError as exc:
                field = form.field_for_refusal(exc)
                form.add_error(field if field in form.fields else None, str(exc.message))
            except PermissionDenied as exc:
                add_refusal(form, exc)
            else:
                messages.success(request, _("Your assessment of the agreement is recorded."))
                return redirect("assess_agreement", pk=pk)
    return render(
        request,
        "claims/assess_agreement.html",
        {
            "agreement": agreement,
            "program": agreement.program,
            "obligations": obligations,
            "form": form if can_assess else None,
        },
        status=400 if form.errors else 200,
    )
