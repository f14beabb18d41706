"""The enterprise's voucher pages: the list, one voucher with its ledger,
the ledger as CSV and the certificate PDF."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from audit import events
from audit.services import Actor, audit_record, client_ip
from common.csv_safe import safe_writer

from .certificate import certificate_pdf
from .forms import LedgerFilterForm
from .models import LedgerEntry, Voucher
from .selectors import (
    entry_reference,
    ledger_actors,
    ledger_for_voucher,
    voucher_get_for_user,
    voucher_list_for_user,
    voucher_rate_outlook,
)

LEDGER_PAGE_SIZE = 50


def _voucher_or_404(request: HttpRequest, pk: int) -> Voucher:
    voucher = voucher_get_for_user(user=request.user, pk=pk)
    if voucher is None:
        raise Http404
    return voucher


@login_required
@require_GET
def voucher_list(request: HttpRequest) -> HttpResponse:
    """My vouchers, with balance, held and the rate in force today."""
    vouchers = list(voucher_list_for_user(user=request.user))
    rows = [(v, voucher_rate_outlook(v)) for v in vouchers]
    return render(request, "vouchers/voucher_list.html", {"rows": rows})


def _filtered_ledger(request: HttpRequest, voucher: Voucher) -> tuple[LedgerFilterForm, object]:
    form = LedgerFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = ledger_for_voucher(
        voucher,
        kind=filters.get("kind", ""),
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )
    return form, entries


@login_required
@require_GET
def voucher_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One voucher: its figures, its rate outlook and its full ledger."""
    voucher = _voucher_or_404(request, pk)
    form, entries = _filtered_ledger(request, voucher)
    paginator: Paginator[Any] = Paginator(entries, LEDGER_PAGE_SIZE)  # type: ignore[arg-type]
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    entries_shown = list(page.object_list)
    actors = ledger_actors(entries_shown, voucher)
    return render(
        request,
        "vouchers/voucher_detail.html",
        {
            "voucher": voucher,
            "outlook": voucher_rate_outlook(voucher),
            "platforms": list(voucher.program.platforms.all()),
            "form": form,
            "page": page,
            "entries": [(e, entry_reference(e), actors[e.pk]) for e in entries_shown],
            "query": query.urlencode(),
            "languages": settings.LANGUAGES,
        },
    )


@login_required
@require_GET
def voucher_ledger_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The (filtered) ledger as CSV, UTF-8 with a byte-order mark for spreadsheets."""
    voucher = _voucher_or_404(request, pk)
    _form, entries = _filtered_ledger(request, voucher)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ledger-{voucher.code}.csv"'
    response.write("\ufeff")
    writer = safe_writer(response)
    writer.writerow(
        [
            "time",
            "kind",
            "amount",
            "balance_change",
            "held_change",
            "balance_after",
            "held_after",
            "unit",
            "platform",
            "reference",
            "caused_by",
            "note",
        ]
    )
    count = 0
    for chunk in _chunks(entries.iterator(chunk_size=500), 500):  # type: ignore[attr-defined]
        actors = ledger_actors(chunk, voucher)
        for entry in chunk:
            count += 1
            _write_entry(writer, voucher, entry, actors[entry.pk])
    audit_record(
        actor=Actor.for_user(request.user, source_ip=client_ip(request)),
        event_type=events.LEDGER_EXPORTED,
        obj=voucher,
        after={"rows": count, "filters": request.GET.dict()},
        district_id=voucher.program.district_id,
        enterprise_id=voucher.enterprise_id,
    )
    return response


def _chunks(items: Iterator[LedgerEntry], size: int) -> Iterator[list[LedgerEntry]]:
    chunk: list[LedgerEntry] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_entry(writer: Any, voucher: Voucher, entry: LedgerEntry, caused_by: str) -> None:
    writer.writerow(
        [
            timezone.localtime(entry.created_at).isoformat(),
            entry.kind,
            entry.amount,
            entry.balance_change,
            entry.held_change,
            entry.balance_after,
            entry.held_after,
            voucher.unit,
            entry.platform.slug if entry.platform else "",
            entry_reference(entry),
            caused_by,
            entry.note,
        ]
    )


@login_required
@require_GET
def voucher_certificate(request: HttpRequest, pk: int) -> HttpResponse:
    """The voucher certificate as PDF, in the page's language or ``?lang=``."""
    voucher = _voucher_or_404(request, pk)
    languages = {code for code, _name in settings.LANGUAGES}
    language = request.GET.get("lang") or get_language() or settings.LANGUAGE_CODE
    if language not in languages:
        language = settings.LANGUAGE_CODE
    pdf = certificate_pdf(voucher, language=language)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="voucher-{voucher.code}-{language}.pdf"'
    return response
