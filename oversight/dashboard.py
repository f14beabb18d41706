"""The officials' dashboard, the program report (PDF) and the public
disclosure export (CSV, XLSX).

Every view runs inside the admin (``admin_view``: signed-in staff with
two-factor authentication) and reads only programs that
:func:`accounts.scoping.scoped` lets the user see: an official sees their
districts, a superuser picks any. Another district's program is a 404, never
a hint that it exists.

The figures are read inside :func:`config.db_router.reporting_reads`: from
the read replica when one is configured (a few seconds behind the primary,
which a report can afford), never in the transaction that records a report
or an export in the audit log. Who may see what is decided on the primary.
"""

from __future__ import annotations

import datetime
import hashlib
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from accounts.models import District
from audit import events
from audit.services import Actor, audit_record, checkpoint_body, client_ip
from common import charts
from common.csv_safe import safe_writer
from common.languages import requested_language
from config.db_router import reporting_reads
from programs.models import Program

from . import overview, reports

# --- The period form -----------------------------------------------------

#: Dates a report can reach: one day either side of the calendar's ends
#: overflows (the period's end is the next midnight, in China time).
PERIOD_LIMITS = [
    MinValueValidator(datetime.date(2000, 1, 1)),
    MaxValueValidator(datetime.date(2099, 12, 31)),
]


class PeriodForm(forms.Form):
    """From and to dates (both included); empty means the year to date."""

    date_from = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        validators=PERIOD_LIMITS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"),
        required=False,
        validators=PERIOD_LIMITS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data

    def period(self) -> reports.Period:
        default = reports.Period.default()
        if not self.is_valid():
            return default
        start = self.cleaned_data.get("date_from") or default.starts_on
        end = self.cleaned_data.get("date_to") or max(default.ends_on, start)
        return reports.Period(start, end)


def _period_form(request: HttpRequest) -> tuple[PeriodForm, reports.Period]:
    data = {k: request.GET[k] for k in ("date_from", "date_to") if request.GET.get(k)}
    form = PeriodForm(data or None)
    period = form.period()
    if not data:
        form = PeriodForm(initial={"date_from": period.starts_on, "date_to": period.ends_on})
    return form, period


def _period_query(period: reports.Period) -> str:
    return f"date_from={period.starts_on:%Y-%m-%d}&date_to={period.ends_on:%Y-%m-%d}"


# --- Figures and charts, shared by the dashboard and the report --------------


def _age_labels() -> list[str]:
    a, b, c = reports.AGE_BUCKETS
    return [
        _("under %(days)s days") % {"days": a},
        _("%(low)s–%(high)s days") % {"low": a, "high": b},
        _("%(low)s–%(high)s days") % {"low": b, "high": c},
        _("%(days)s days or more") % {"days": c},
    ]


def _unit_sections(
    rows: Any, bars: Callable[[list[Any]], list[tuple[Any, Any]]], title: str
) -> list[dict[str, Any]]:
    """One table and bar chart per unit (yuan, points) of ``rows``; ``title``
    takes the unit's name as ``%(unit)s``."""
    sections = []
    for unit, unit_rows in _by_unit(rows):
        label = _unit_label(unit)
        sections.append(
            {
                "unit": unit,
                "unit_label": label,
                "rows": unit_rows,
                "chart": charts.bar_chart(
                    bars(unit_rows), unit=unit, title=title % {"unit": label}
                ),
            }
        )
    return sections


def _by_unit(rows: list[Any]) -> list[tuple[str, list[Any]]]:
    """Rows grouped by unit, yuan first (amounts of different units never add up)."""
    units = sorted({r.unit for r in rows}, key=lambda u: (u != Program.Unit.CNY, u))
    return [(u, [r for r in rows if r.unit == u]) for u in units]


def _unit_label(unit: str) -> str:
    return str(dict(Program.Unit.choices).get(unit, unit))


def figures(
    programs: list[Program], *, period: reports.Period, now: datetime.datetime | None = None
) -> dict[str, Any]:
    """The figures and charts of ``programs`` (already scoped) for ``period``."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    budgets = reports.budget_by_program(programs, today=today)
    burns = reports.burn_over_time(programs, today=today)
    platforms = reports.redemptions_by_platform(programs, period=period)
    models = reports.redemptions_by_model(programs, period=period)
    recipients = reports.top_enterprises(programs, period=period)
    waiting = overview.applications_waiting(programs, now=now, bucket_labels=_age_labels())

    budget_chart = charts.budget_chart(
        [
            charts.BudgetBar(
                label=b.program.display_name,
                unit=b.unit,
                total=b.budget.total,
                redeemed=b.budget.redeemed,
                issued_unredeemed=b.issued_unredeemed,
                reserved=b.budget.reserved,
                remaining=b.budget.remaining,
            )
            for b in budgets
        ],
        title=_("Budget by program"),
    )
    burn_sections = [
        {
            "burn": burn,
            "chart": charts.burn_chart(
                [
                    charts.BurnPoint(
                        label=f"{m.month:%Y-%m}",
                        covered=m.covered,
                        projected=m.projected,
                        rate=m.rate,
                        current=m.month == today.replace(day=1),
                    )
                    for m in burn.months
                ],
                unit=burn.unit,
                title=_("Burn over time: %(program)s") % {"program": burn.program.display_name},
            ),
        }
        for burn in burns
    ]
    platform_sections = _unit_sections(
        platforms,
        lambda rows: [(r.name, r.covered) for r in rows],
        _("Covered by platform (%(unit)s)"),
    )
    model_sections = _unit_sections(
        models,
        lambda rows: [(r.model or _("(no usage lines)"), r.covered) for r in rows[:12]],
        _("Covered by model (%(unit)s)"),
    )
    recipient_sections = _unit_sections(
        recipients,
        lambda rows: [(r.name, r.covered) for r in rows],
        _("Top enterprises (%(unit)s)"),
    )
    return {
        "period": period,
        "today": today,
        "now": now,
        "budgets": budgets,
        "budget_chart": budget_chart,
        "burn_sections": burn_sections,
        "platform_sections": platform_sections,
        "model_sections": model_sections,
        "recipient_sections": recipient_sections,
        "waiting": waiting,
        "waiting_chart": charts.count_chart(
            waiting.buckets, title=_("Applications waiting, by age")
        ),
    }


# --- Views -------------------------------------------------------------------


def _require_reader(request: HttpRequest) -> None:
    if not reports.may_read_reports(request.user):
        raise PermissionDenied


def _chosen_district(request: HttpRequest, districts: list[District]) -> District:
    raw = request.GET.get("district", "")
    if raw:
        for district in districts:
            if str(district.pk) == raw:
                return district
        # Someone else's district, or none at all: not found either way.
        raise Http404
    if not districts:
        raise Http404
    return districts[0]


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """One district's programs: budget, settlements with the platforms, burn,
    platforms, models, recipients, waiting."""
    _require_reader(request)
    districts = list(reports.districts_for_user(request.user))
    district = _chosen_district(request, districts)
    form, period = _period_form(request)
    with reporting_reads():
        programs = list(reports.programs_for_district(user=request.user, district=district))
        flags = overview.anomaly_flags(district=district)
        settlement_rows = overview.settlements_by_platform(programs)
        shown = figures(programs, period=period)
    context = {
        **admin.site.each_context(request),
        "title": _("Dashboard: %(district)s") % {"district": district.display_name},
        "district": district,
        "districts": districts,
        "form": form,
        "programs": programs,
        "period_query": _period_query(period),
        "flags": flags,
        "settlement_sections": [
            {"unit": unit, "unit_label": _unit_label(unit), "rows": rows}
            for unit, rows in _by_unit(settlement_rows)
        ],
        "deducting": any(p.payout_mode == Program.PayoutMode.DEDUCT_AT_PLATFORM for p in programs),
        **shown,
    }
    return TemplateResponse(request, "admin/audit/dashboard.html", context)


def _program(request: HttpRequest, pk: int) -> Program:
    _require_reader(request)
    program = reports.program_for_user(user=request.user, pk=pk)
    if program is None:
        raise Http404
    return program


def report_context(
    program: Program, *, period: reports.Period, now: datetime.datetime | None = None
) -> dict[str, Any]:
    """Everything the program report prints."""
    checkpoint = overview.latest_checkpoint()
    return {
        "program": program,
        "district": program.district,
        "period_figures": overview.period_figures(program, period=period),
        "checkpoint": checkpoint,
        # The signed fields exactly as published, so a reader can compare text.
        "checkpoint_signed": checkpoint_body(checkpoint) if checkpoint else None,
        "flags": overview.anomaly_flags(
            district=program.district, programs=[program], period=period, limit=50
        ),
        **figures([program], period=period, now=now),
    }


def program_report_pdf(program: Program, *, period: reports.Period, language: str) -> bytes:
    """The program report for ``period`` in ``language``, as PDF bytes."""
    from weasyprint import HTML

    with translation.override(language):
        context = {**report_context(program, period=period), "language": language}
        html = render_to_string("pdf/program_report.html", context)
    return HTML(string=html).write_pdf()


def program_report_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The program report PDF; printing it is recorded in the audit log."""
    program = _program(request, pk)
    form, period = _period_form(request)
    if form.is_bound and not form.is_valid():
        # Never print another period than the one asked for: back to the
        # dashboard, which shows the form's error beside the dates.
        query = request.GET.copy()
        query["district"] = str(program.district_id)
        query.pop("lang", None)
        return redirect(f"{reverse('audit_dashboard')}?{query.urlencode()}")
    language = requested_language(request)
    with reporting_reads():
        checkpoint = overview.latest_checkpoint()
        pdf = program_report_pdf(program, period=period, language=language)
    with transaction.atomic():
        audit_record(
            actor=Actor.for_user(request.user, source_ip=client_ip(request)),
            event_type=events.PROGRAM_REPORT_PRINTED,
            obj=program,
            district_id=program.district_id,
            after={
                "from": period.starts_on.isoformat(),
                "to": period.ends_on.isoformat(),
                "language": language,
                "checkpoint_tree_size": checkpoint.tree_size if checkpoint else None,
                "checkpoint_root_hash": checkpoint.root_hash if checkpoint else None,
                # Ties a printed copy to this event: the file's own digest.
                "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
            },
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"program-{program.pk}-report-{period.starts_on:%Y%m%d}-{period.ends_on:%Y%m%d}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


# --- The public disclosure --------------------------------------------------


def disclosure_header(program: Program) -> list[str]:
    unit = _unit_label(program.unit)
    return [
        _("Recipient enterprise"),
        _("Unified Social Credit Code"),
        _("Amount approved (%(unit)s)") % {"unit": unit},
        _("Amount used (%(unit)s)") % {"unit": unit},
    ]


def _number(value: Decimal, unit: str) -> Decimal:
    return value.quantize(Decimal("1") if unit == Program.Unit.POINTS else Decimal("0.01"))


def disclosure_csv(program: Program, rows: list[overview.DisclosureRow]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read Chinese correctly."""
    out = io.StringIO()
    writer = safe_writer(out)
    writer.writerow(disclosure_header(program))
    for row in rows:
        writer.writerow(
            [
                row.name,
                row.uscc,
                str(_number(row.approved, program.unit)),
                str(_number(row.used, program.unit)),
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def disclosure_xlsx(program: Program, rows: list[overview.DisclosureRow]) -> bytes:
    """One sheet: the header, a row per recipient, amounts as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = _("Disclosure")[:31]
    sheet.append(disclosure_header(program))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    number_format = "#,##0" if program.unit == Program.Unit.POINTS else "#,##0.00"
    for row in rows:
        sheet.append(
            [
                row.name,
                row.uscc,
                _number(row.approved, program.unit),
                _number(row.used, program.unit),
            ]
        )
        name_cell, uscc_cell, approved_cell, used_cell = sheet[sheet.max_row]
        for cell in (name_cell, uscc_cell):
            # Text stays text: a name starting with "=" is never a formula.
            cell.data_type = "s"
        approved_cell.number_format = number_format
        used_cell.number_format = number_format
    for column, width in zip("ABCD", (44, 24, 22, 22), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


DISCLOSURE_FORMATS = {
    "csv": ("text/csv; charset=utf-8", disclosure_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", disclosure_xlsx),
}


def disclosure_view(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """The program's recipients for publication; the export is recorded first."""
    program = _program(request, pk)
    if fmt not in DISCLOSURE_FORMATS:
        raise Http404
    content_type, render = DISCLOSURE_FORMATS[fmt]
    with reporting_reads():
        rows = overview.disclosure_rows(program)
    with transaction.atomic():
        audit_record(
            actor=Actor.for_user(request.user, source_ip=client_ip(request)),
            event_type=events.DISCLOSURE_EXPORTED,
            obj=program,
            district_id=program.district_id,
            after={"format": fmt, "rows": len(rows), "language": get_language()},
        )
    response = HttpResponse(render(program, rows), content_type=content_type)
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = (
        f'attachment; filename="program-{program.pk}-disclosure-{stamp}.{fmt}"'
    )
    return response


def dashboard_url(district: District | None = None) -> str:
    url = reverse("audit_dashboard")
    return f"{url}?district={district.pk}" if district is not None else url


# Included under /admin/dashboard/ by config/urls.py. Scoped: every view reads
# programs through accounts.scoping.scoped (officials: their districts only).
urlpatterns = [
    path("", admin.site.admin_view(dashboard_view), name="audit_dashboard"),
    path(
        "programs/<int:pk>/report.pdf",
        admin.site.admin_view(program_report_view),
        name="audit_program_report",
    ),
    path(
        "programs/<int:pk>/disclosure.<str:fmt>",
        admin.site.admin_view(disclosure_view),
        name="audit_program_disclosure",
    ),
]
