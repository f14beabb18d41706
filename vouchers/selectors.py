"""Reads for the voucher pages: scoped querysets and the figures they show."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from accounts.models import Enterprise
from accounts.scoping import scoped
from programs.models import PhaseStep
from programs.phasedown import Step, rate_in_force, steps_of

from .models import LedgerEntry, Voucher


def voucher_list_for_user(*, user: Any) -> QuerySet[Voucher]:
    """The vouchers the user may see, with what the list shows."""
    return (
        scoped(Voucher.objects.all(), user)
        .select_related("program", "program__district", "enterprise")
        .prefetch_related(
            Prefetch("program__phase_steps", queryset=PhaseStep.objects.order_by("starts_on"))
        )
        .order_by("-issued_at", "-id")
    )


def voucher_get_for_user(*, user: Any, pk: int) -> Voucher | None:
    return voucher_list_for_user(user=user).filter(pk=pk).first()


@dataclass(frozen=True)
class RateOutlook:
    """The rate in force today and the steps still to come."""

    today: Decimal
    coming: list[Step]


def voucher_rate_outlook(voucher: Voucher, *, on: datetime.date | None = None) -> RateOutlook:
    day = on or timezone.localdate()
    steps = steps_of(voucher.program)
    return RateOutlook(
        today=rate_in_force(voucher.program, on=day, steps=steps),
        coming=[s for s in steps if s.starts_on > day],
    )


def ledger_for_voucher(
    voucher: Voucher,
    *,
    kind: str = "",
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> QuerySet[LedgerEntry]:
    """The voucher's ledger, oldest first, filtered by kind and Shanghai dates."""
    entries = LedgerEntry.objects.filter(voucher=voucher).select_related(
        "platform", "redemption", "hold", "reversal"
    )
    if kind:
        entries = entries.filter(kind=kind)
    tz = timezone.get_default_timezone()
    if date_from:
        entries = entries.filter(
            created_at__gte=datetime.datetime.combine(date_from, datetime.time.min, tzinfo=tz)
        )
    if date_to:
        entries = entries.filter(
            created_at__lt=datetime.datetime.combine(
                date_to + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
            )
        )
    return entries.order_by("id")


def entry_reference(entry: LedgerEntry) -> str:
    """The platform's reference of what caused the entry, if a platform did."""
    for row in (entry.reversal, entry.redemption, entry.hold):
        if row is not None:
            return row.reference
    return ""


def vouchers_funded_in_year(
    *, enterprise: Enterprise, year: int, kind: str | None = None
) -> QuerySet[Voucher]:
    """Vouchers issued to ``enterprise`` in ``year`` (China time), of ``kind``
    if given, whatever became of them since except revocation or clawback
    (the funding the duplicate checks and the eligibility fact look for)."""
    tz = timezone.get_current_timezone()
    start = datetime.datetime(year, 1, 1, tzinfo=tz)
    end = datetime.datetime(year + 1, 1, 1, tzinfo=tz)
    vouchers = Voucher.objects.filter(
        enterprise=enterprise, issued_at__gte=start, issued_at__lt=end
    ).exclude(status__in=[Voucher.Status.REVOKED, Voucher.Status.CLAWED_BACK])
    if kind:
        vouchers = vouchers.filter(program__kind=kind)
    return vouchers
