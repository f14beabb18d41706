"""Operators' pages of settlements: a platform's settlements, one
settlement with its lines, rejections and payments (and the form that
submits it), its statement PDF and each payment's notice PDF."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import ComputePlatform
from audit import events
from audit.services import Actor, audit_record, client_ip
from common.errors import BusinessError
from common.languages import requested_language
from platforms.selectors import operator_platforms

from .documents import payment_notice_pdf, statement_pdf
from .models import Settlement
from .selectors import (
    payment_get_for_platform,
    period_last_day,
    settlement_get_for_platform,
    settlement_lines,
    settlement_payments,
    settlements_for_platform,
)
from .services import settlement_submit, settlements_draw

LINES_PER_PAGE = 50
SETTLEMENTS_PER_PAGE = 50


class SettlementSubmitForm(forms.Form):
    """The platform's invoice for the amount due, and a note for the district."""

    invoice_number = forms.CharField(label=gettext_lazy("Invoice number"), max_length=100)
    invoice_amount = forms.DecimalField(
        label=gettext_lazy("Invoice amount"),
        max_digits=16,
        decimal_places=2,
        help_text=gettext_lazy("Exactly the amount due."),
    )
    note = forms.CharField(
        label=gettext_lazy("Note for the district"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _platform_or_denied(request: HttpRequest, slug: str) -> ComputePlatform:
    """The platform ``slug`` if the user operates it: 403 for people who
    operate none, 404 for a platform that is not theirs."""
    platforms = operator_platforms(request.user)
    if not platforms.exists():
        raise PermissionDenied
    platform = platforms.filter(slug=slug).first()
    if platform is None:
        raise Http404
    return platform


def _settlement_or_404(platform: ComputePlatform, pk: int) -> Settlement:
    settlement = settlement_get_for_platform(platform=platform, pk=pk)
    if settlement is None:
        raise Http404
    return settlement


def _audit_export(
    request: HttpRequest, settlement: Settlement, document: str, language: str, **extra: Any
) -> None:
    audit_record(
        actor=Actor.for_user(request.user, source_ip=client_ip(request)),
        event_type=events.SETTLEMENT_EXPORTED,
        obj=settlement,
        after={
            "settlement": settlement.pk,
            "period": settlement.period,
            "document": document,
            "format": "pdf",
            "language": language,
            **extra,
        },
        district_id=settlement.program.district_id,
        platform_id=settlement.platform_id,
    )


def _pdf(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response


@login_required
@require_GET
def settlement_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The platform's settlements, newest period first, by status or period."""
    platform = _platform_or_denied(request, slug)
    # Periods that ended since anyone last looked become drafts now, not at
    # the next scheduled draw: the operator comes here to submit them.
    settlements_draw(platform=platform)
    status = request.GET.get("status", "")
    if status not in Settlement.Status.values:
        status = ""
    period = request.GET.get("period", "").strip()
    rows = settlements_for_platform(platform=platform, status=status, period=period)
    paginator: Paginator[Settlement] = Paginator(rows, SETTLEMENTS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "settlements/operator/settlement_list.html",
        {
            "platform": platform,
            "page": page,
            "status": status,
            "period": period,
            "statuses": Settlement.Status.choices,
            "query": query.urlencode(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def settlement_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One settlement: its figures, invoice, lines, payments and, while it is
    a draft or returned, the form that submits it with the invoice."""
    platform = _platform_or_denied(request, slug)
    settlement = _settlement_or_404(platform, pk)
    may_submit = settlement.status in Settlement.SUBMITTABLE and settlement.may_submit(request.user)
    form = None
    if may_submit:
        form = SettlementSubmitForm(
            request.POST if request.method == "POST" else None,
            # A returned settlement is resubmitted: its invoice number is a start.
            initial={
                "invoice_number": settlement.invoice_number,
                "invoice_amount": settlement.amount_due,
            },
        )
    if request.method == "POST":
        if form is None:
            if not settlement.may_submit(request.user):
                raise PermissionDenied
            messages.error(
                request,
                _("Only a draft or returned settlement can be submitted; this one is %(status)s.")
                % {"status": settlement.get_status_display()},
            )
            return redirect("operator_settlement_detail", slug=platform.slug, pk=settlement.pk)
        if form.is_valid():
            try:
                settlement_submit(
                    actor=Actor.for_user(request.user, source_ip=client_ip(request)),
                    platform=platform,
                    settlement_id=settlement.pk,
                    invoice_number=form.cleaned_data["invoice_number"],
                    invoice_amount=form.cleaned_data["invoice_amount"],
                    note=form.cleaned_data["note"],
                )
            except BusinessError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
            else:
                messages.success(
                    request,
                    _("Settlement %(period)s is submitted to %(district)s with invoice %(number)s.")
                    % {
                        "period": settlement.period,
                        "district": settlement.program.district.display_name,
                        "number": form.cleaned_data["invoice_number"].strip(),
                    },
                )
                return redirect("operator_settlement_detail", slug=platform.slug, pk=settlement.pk)
    paginator: Paginator[Any] = Paginator(settlement_lines(settlement), LINES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "settlements/operator/settlement_detail.html",
        {
            "platform": platform,
            "settlement": settlement,
            "last_day": period_last_day(settlement),
            "page": page,
            "payments": list(settlement_payments(settlement)),
            "form": form,
        },
    )


@login_required
@require_GET
def settlement_statement_pdf(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """The settlement statement as PDF, in the page's language or ``?lang=``."""
    platform = _platform_or_denied(request, slug)
    settlement = _settlement_or_404(platform, pk)
    language = requested_language(request)
    content = statement_pdf(settlement, language=language)
    _audit_export(request, settlement, "statement", language)
    return _pdf(content, f"settlement-{platform.slug}-{settlement.period}-{language}")


@login_required
@require_GET
def payment_notice(request: HttpRequest, slug: str, pk: int, payment_id: int) -> HttpResponse:
    """The district's notice of one payment as PDF."""
    platform = _platform_or_denied(request, slug)
    payment = payment_get_for_platform(platform=platform, settlement_pk=pk, pk=payment_id)
    # A payment of the platform's settlement (a claim's payment has none).
    if payment is None or payment.settlement is None:
        raise Http404
    settlement = payment.settlement
    language = requested_language(request)
    content = payment_notice_pdf(payment, language=language)
    _audit_export(request, settlement, "payment_notice", language, payment=payment.pk)
    return _pdf(content, f"payment-{platform.slug}-{settlement.period}-{payment.pk}")
