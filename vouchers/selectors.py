"""Reads for the voucher pages: scoped querysets and the figures they show."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Enterprise, Membership, User
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


#: When a person holds several official roles in the district, the one named.
_ROLE_ORDER: list[str] = [
    Membership.Role.REVIEWER,
    Membership.Role.PROGRAM_MANAGER,
    Membership.Role.FINANCE_OFFICER,
    Membership.Role.AUDITOR,
    Membership.Role.ASSESSOR,
    Membership.Role.ENTERPRISE_ADMIN,
    Membership.Role.ENTERPRISE_MEMBER,
    Membership.Role.PLATFORM_OPERATOR,
]


def _role_at(membership: Membership) -> str:
    organisation = membership.organisation
    name = getattr(organisation, "display_name", None) or str(organisation or "")
    return gettext("%(role)s, %(organisation)s") % {
        "role": membership.get_role_display(),
        "organisation": name,
    }


def ledger_actors(entries: list[LedgerEntry], voucher: Voucher) -> dict[int, str]:
    """Who caused each entry, as the enterprise may read it: a person by role
    and organisation ("Reviewer, Jianghan District"), a platform by its
    name, the platform's own tasks as such; never a login e-mail or key id
    (the admin keeps ``actor_label``). Two queries whatever the page size."""
    user_ids = {e.actor_user_id for e in entries if e.actor_user_id is not None}
    memberships: dict[int, list[Membership]] = {}
    superusers: set[int] = set()
    if user_ids:
        for m in Membership.objects.filter(user_id__in=user_ids).select_related(
            "district", "enterprise", "platform"
        ):
            memberships.setdefault(m.user_id, []).append(m)
        superusers = set(
            User.objects.filter(pk__in=user_ids, is_superuser=True).values_list("pk", flat=True)
        )
    district_id = voucher.program.district_id
    names: dict[int, str] = {}
    for entry in entries:
        if entry.actor_kind == "platform_key":
            names[entry.pk] = (
                entry.platform.display_name if entry.platform else gettext("Compute platform")
            )
        elif entry.actor_kind == "system":
            names[entry.pk] = gettext("Automatic, %(district)s") % {
                "district": voucher.program.district.display_name
            }
        elif entry.actor_user_id is not None:
            held = memberships.get(entry.actor_user_id, [])
            # The role held in the voucher's own district first, then any other.
            held.sort(
                key=lambda m: (
                    m.district_id != district_id,
                    _ROLE_ORDER.index(m.role) if m.role in _ROLE_ORDER else len(_ROLE_ORDER),
                )
            )
            if held:
                names[entry.pk] = _role_at(held[0])
            elif entry.actor_user_id in superusers:
                names[entry.pk] = gettext("Platform administrator")
            else:
                names[entry.pk] = gettext("Former staff member")
        else:
            names[entry.pk] = "—"
    return names


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
