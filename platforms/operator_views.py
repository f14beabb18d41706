"""Operators' pages: a platform's own redemptions, reversals and open holds,
and its monthly settlement statement (HTML, CSV, PDF) of what each program
owes it."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.views.decorators.http import require_GET

from accounts.models import ComputePlatform
from audit import events
from audit.services import Actor, audit_record, client_ip
from common.csv_safe import safe_writer
from common.languages import requested_language

from .selectors import operator_activity, operator_platforms, settlement_statement

MONTHS_LISTED = 12
FORMATS = ("html", "csv", "pdf")

#: Decimal places of an amount in each unit: yuan to the fen, points whole.
UNIT_QUANTUM = {"CNY": Decimal("0.01"), "POINTS": Decimal("1")}


def quantize_amount(value: Decimal, unit: str) -> Decimal:
    """``value`` rounded to the places of ``unit`` (half up, as money is shown)."""
    return Decimal(value).quantize(UNIT_QUANTUM.get(unit, Decimal("0.01")), ROUND_HALF_UP)


def quantize_billed(value: Decimal) -> Decimal:
    """A billed amount: always yuan, whatever the program's unit."""
    return quantize_amount(value, "CNY")


def _platform_or_denied(request: HttpRequest, slug: str | None) -> ComputePlatform:
    platforms = operator_platforms(request.user)
    if not platforms.exists():
        raise PermissionDenied
    platform = platforms.first() if slug is None else platforms.filter(slug=slug).first()
    if platform is None:
        raise Http404
    return platform


def _recent_months(today: datetime.date) -> list[datetime.date]:
    months = []
    month = today.replace(day=1)
    for _ in range(MONTHS_LISTED):
        months.append(month)
        month = (month - datetime.timedelta(days=1)).replace(day=1)
    return months


def _month(text: str) -> datetime.date:
    try:
        month = datetime.datetime.strptime(text, "%Y-%m").date()  # noqa: DTZ007 - a month, no time
    except ValueError as exc:
        raise Http404 from exc
    if not 2000 <= month.year <= 2100:
        raise Http404
    return month


@login_required
@require_GET
def operator_home(request: HttpRequest) -> HttpResponse:
    """The first platform the user operates."""
    platform = _platform_or_denied(request, None)
    return redirect("operator_platform", slug=platform.slug)


@login_required
@require_GET
def operator_platform(request: HttpRequest, slug: str) -> HttpResponse:
    """One platform: this month's running figures, the latest activity, and
    links to the settlements of past periods."""
    platform = _platform_or_denied(request, slug)
    today = timezone.localdate()
    return render(
        request,
        "platforms/operator_platform.html",
        {
            "platform": platform,
            "platforms": operator_platforms(request.user),
            "settlement": settlement_statement(platform=platform, month=today.replace(day=1)),
            # Ended months: each links to the settlements of its period.
            "past_months": _recent_months(today)[1:],
            **operator_activity(platform=platform),
        },
    )


def _audit_export(request: HttpRequest, platform: ComputePlatform, month: str, kind: str) -> None:
    audit_record(
        actor=Actor.for_user(request.user, source_ip=client_ip(request)),
        event_type=events.SETTLEMENT_EXPORTED,
        obj=platform,
        after={"month": month, "format": kind},
        platform_id=platform.pk,
    )


@login_required
@require_GET
def operator_settlement(request: HttpRequest, slug: str, month: str, fmt: str) -> HttpResponse:
    """The settlement statement of one month as a page, CSV or PDF (in the
    page's language or ``?lang=``)."""
    if fmt not in FORMATS:
        raise Http404
    platform = _platform_or_denied(request, slug)
    settlement = settlement_statement(platform=platform, month=_month(month))
    context: dict[str, Any] = {
        "platform": platform,
        "settlement": settlement,
        "month": month,
        "printed_at": timezone.localtime(),
    }
    if fmt == "html":
        return render(request, "platforms/operator_settlement.html", context)
    _audit_export(request, platform, month, fmt)
    name = f"settlement-{platform.slug}-{month}"
    if fmt == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        response.write("\ufeff")
        writer = safe_writer(response)
        writer.writerow(
            [
                "month",
                "district",
                "program_id",
                "program",
                "unit",
                "charges",
                "billed_cny",
                "covered",
                "reversed",
                "net_owed",
            ]
        )
        for row in settlement.rows:
            writer.writerow(
                [
                    month,
                    row.district,
                    row.program_id,
                    row.program,
                    row.unit,
                    row.charges,
                    quantize_billed(row.billed),
                    quantize_amount(row.covered, row.unit),
                    quantize_amount(row.reversed, row.unit),
                    quantize_amount(row.net, row.unit),
                ]
            )
        return response
    from weasyprint import HTML

    language = requested_language(request)
    with translation.override(language):
        html = render_to_string("pdf/settlement.html", {**context, "language": language})
    pdf = HTML(string=html).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response
