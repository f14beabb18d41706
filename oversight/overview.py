"""What the dashboard shows beside the figures, and what a program discloses:
the public disclosure rows, the applications waiting, a period's figures,
the latest checkpoint, the anomaly flags and what is owed to the platforms."""

from __future__ import annotations

import datetime
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.db.models import Count, F, Min, Q, Sum
from django.utils import timezone

from accounts.models import District, Enterprise, localized
from applications.models import Application
from audit.models import AuditCheckpoint
from programs.models import Program
from settlements.models import Settlement
from vouchers.models import Redemption, Voucher

from .detectors import flag_summary
from .models import AnomalyFlag
from .reports import AGE_BUCKETS, TOP_LIMIT, WAITING, ZERO, Period, charges_in, net_of


@dataclass(frozen=True)
class DisclosureRow:
    """One recipient of a program, as published."""

    name: str
    uscc: str
    approved: Decimal
    used: Decimal


def disclosure_rows(program: Program) -> list[DisclosureRow]:
    """Every enterprise the program funded: the amount approved (approved
    applications, and vouchers issued without one) and the amount used
    (covered by its vouchers, net of reversals). Three queries."""
    approved: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for enterprise_id, amount_approved in Application.objects.filter(
        program=program, status=Application.Status.APPROVED
    ).values_list("enterprise_id", "approved_amount"):
        approved[enterprise_id] += amount_approved or ZERO
    for enterprise_id, face_value in Voucher.objects.filter(
        program=program, application__isnull=True
    ).values_list("enterprise_id", "face_value"):
        approved[enterprise_id] += face_value
    used: dict[int, Decimal] = defaultdict(lambda: ZERO)
    names: dict[int, tuple[str, str]] = {}
    for row in (
        Redemption.objects.filter(voucher__program=program)
        .values("voucher__enterprise_id")
        .annotate(covered=Sum("covered"), reversed=Sum("reversed_amount"))
        .order_by()
    ):
        used[row["voucher__enterprise_id"]] = net_of(row["covered"], row["reversed"])
    for pk, name, uscc in Enterprise.objects.filter(pk__in=set(approved) | set(used)).values_list(
        "pk", "name", "uscc"
    ):
        names[pk] = (name, uscc)
    rows = [
        DisclosureRow(
            name=names[pk][0], uscc=names[pk][1], approved=approved.get(pk, ZERO), used=used[pk]
        )
        for pk in names
    ]
    return sorted(rows, key=lambda r: (-r.approved, r.uscc))


# --- Applications waiting ------------------------------------------------


@dataclass(frozen=True)
class WaitingApplication:
    pk: int
    enterprise: str
    program: Program
    status_label: str
    requested: Decimal
    submitted_at: datetime.datetime | None
    age_days: int


@dataclass
class Waiting:
    count: int = 0
    by_status: list[tuple[str, int]] = field(default_factory=list)
    buckets: list[tuple[str, int]] = field(default_factory=list)
    oldest: list[WaitingApplication] = field(default_factory=list)

    @property
    def oldest_age(self) -> int | None:
        return self.oldest[0].age_days if self.oldest else None


def applications_waiting(
    programs: Sequence[Program],
    *,
    now: datetime.datetime | None = None,
    limit: int = TOP_LIMIT,
    bucket_labels: Sequence[str] = (),
) -> Waiting:
    """Applications awaiting a decision: counts by status and by age, and the oldest.

    ``bucket_labels`` name the age buckets (one more than ``AGE_BUCKETS``),
    so the caller decides the wording; without them, the bounds are used.
    """
    now = now or timezone.now()
    by_program = {p.pk: p for p in programs}
    waiting = Application.objects.filter(program__in=list(by_program), status__in=WAITING)
    labels = dict(Application.Status.choices)
    status_counts = dict(
        waiting.values("status").annotate(n=Count("id")).order_by().values_list("status", "n")
    )
    # Ages are counted in whole days from submission; one query for all buckets.
    bounds = [now - datetime.timedelta(days=d) for d in AGE_BUCKETS]
    names = list(bucket_labels) or [
        f"< {AGE_BUCKETS[0]}",
        *(f"{a}–{b}" for a, b in itertools.pairwise(AGE_BUCKETS)),
        f"≥ {AGE_BUCKETS[-1]}",
    ]
    submitted = list(waiting.values_list("submitted_at", flat=True))
    counts = [0] * (len(AGE_BUCKETS) + 1)
    for moment in submitted:
        moment = moment or now
        index = sum(1 for bound in bounds if moment <= bound)
        counts[index] += 1
    # Only the columns shown: no enterprise row (with its personal data) is loaded.
    oldest = [
        WaitingApplication(
            pk=row["pk"],
            enterprise=row["enterprise__name"],
            program=by_program[row["program_id"]],
            status_label=str(labels.get(row["status"], row["status"])),
            requested=row["requested_amount"],
            submitted_at=row["submitted_at"],
            age_days=(now - (row["submitted_at"] or now)).days,
        )
        for row in waiting.order_by(F("submitted_at").asc(nulls_last=True), "pk").values(
            "pk", "enterprise__name", "program_id", "status", "requested_amount", "submitted_at"
        )[:limit]
    ]
    return Waiting(
        count=len(submitted),
        by_status=[(str(labels[s]), status_counts.get(s, 0)) for s in WAITING],
        buckets=list(zip(names, counts, strict=True)),
        oldest=oldest,
    )


# --- The program report ------------------------------------------------------


@dataclass(frozen=True)
class PeriodFigures:
    """What happened to a program in a period."""

    charges: int
    covered: Decimal
    reversed_amount: Decimal
    enterprises: int
    vouchers_issued: int
    issued_amount: Decimal
    applications_submitted: int
    applications_approved: int
    applications_rejected: int
    first_charge_at: datetime.datetime | None

    @property
    def net_covered(self) -> Decimal:
        return self.covered - self.reversed_amount


def period_figures(program: Program, *, period: Period) -> PeriodFigures:
    """The program's charges, issues and decisions in ``period``."""
    charged = charges_in([program], period).aggregate(
        n=Count("id"),
        covered=Sum("covered"),
        reversed=Sum("reversed_amount"),
        enterprises=Count("voucher__enterprise", distinct=True),
        first=Min("created_at"),
    )
    issued = Voucher.objects.filter(
        program=program, issued_at__gte=period.start, issued_at__lt=period.end
    ).aggregate(n=Count("id"), total=Sum("face_value"))
    in_period = Application.objects.filter(program=program)
    decided = in_period.filter(decided_at__gte=period.start, decided_at__lt=period.end)
    return PeriodFigures(
        charges=charged["n"] or 0,
        covered=charged["covered"] or ZERO,
        reversed_amount=charged["reversed"] or ZERO,
        enterprises=charged["enterprises"] or 0,
        vouchers_issued=issued["n"] or 0,
        issued_amount=issued["total"] or ZERO,
        applications_submitted=in_period.filter(
            submitted_at__gte=period.start, submitted_at__lt=period.end
        ).count(),
        applications_approved=decided.filter(status=Application.Status.APPROVED).count(),
        applications_rejected=decided.filter(status=Application.Status.REJECTED).count(),
        first_charge_at=charged["first"],
    )


def latest_checkpoint() -> AuditCheckpoint | None:
    """The newest signed tree head of the audit log, which a report prints."""
    return AuditCheckpoint.objects.order_by("-tree_size", "-id").first()


@dataclass(frozen=True)
class FlagOverview:
    """The anomaly flags of a district (or of some programs): counts and the open ones."""

    open: int
    confirmed: int
    dismissed: int
    latest_open: list[Any]
    decided: list[Any]


def anomaly_flags(
    *,
    district: District,
    programs: Sequence[Program] | None = None,
    period: Period | None = None,
    limit: int = 10,
) -> FlagOverview:
    """Flags of ``district`` (limited to ``programs`` and to flags overlapping
    ``period`` when given): how many in each state, the newest open ones, and
    the latest decisions with their outcome."""
    flags = AnomalyFlag.objects.filter(district=district)
    if programs is not None:
        flags = flags.filter(program__in=[p.pk for p in programs])
    if period is not None:
        flags = flags.filter(period_start__lte=period.ends_on, period_end__gte=period.starts_on)
    counts = dict(flags.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    related = flags.select_related("program", "enterprise", "decided_by")
    latest_open = list(related.filter(status=AnomalyFlag.Status.OPEN).order_by("-pk")[:limit])
    decided = list(related.exclude(status=AnomalyFlag.Status.OPEN).order_by("-decided_at")[:limit])
    for flag in [*latest_open, *decided]:
        flag.summary = flag_summary(flag)  # type: ignore[attr-defined]
    return FlagOverview(
        open=counts.get(AnomalyFlag.Status.OPEN, 0),
        confirmed=counts.get(AnomalyFlag.Status.CONFIRMED, 0),
        dismissed=counts.get(AnomalyFlag.Status.DISMISSED, 0),
        latest_open=latest_open,
        decided=decided,
    )


# --- Settlements with the platforms ---------------------------------------


@dataclass(frozen=True)
class SettlementRow:
    """What a district's programs owe one platform, in one unit."""

    platform_id: int
    name: str
    unit: str
    settlements: int
    owed: Decimal
    approved: Decimal
    paid: Decimal


def settlements_by_platform(programs: Sequence[Program]) -> list[SettlementRow]:
    """Per platform and unit, for the ``programs`` that deduct at the platform:
    owed (the amount due of settlements not yet approved), approved (the
    approved amounts of approved and paid settlements) and paid. One query;
    amounts of different units are never added up."""
    deducting = [p.pk for p in programs if p.payout_mode == Program.PayoutMode.DEDUCT_AT_PLATFORM]
    if not deducting:
        return []
    decided = Q(status__in=Settlement.DECIDED)
    rows = (
        Settlement.objects.filter(program_id__in=deducting)
        .values("platform_id", "platform__name", "platform__name_en", "unit")
        .annotate(
            settlements=Count("id"),
            owed=Sum("amount_due", filter=~decided),
            approved=Sum("approved_amount", filter=decided),
            paid=Sum("paid_amount"),
        )
        .order_by()
    )
    result = [
        SettlementRow(
            platform_id=row["platform_id"],
            name=localized(
                SimpleNamespace(name=row["platform__name"], name_en=row["platform__name_en"]),
                "name",
            ),
            unit=row["unit"],
            settlements=row["settlements"],
            owed=row["owed"] or ZERO,
            approved=row["approved"] or ZERO,
            paid=row["paid"] or ZERO,
        )
        for row in rows
    ]
    return sorted(result, key=lambda r: (r.unit, -(r.owed + r.approved), r.name))
