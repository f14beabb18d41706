"""What settlements wait for an official, by the role they hold in each
program's district: the settlements part of the admin's work queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Membership
from accounts.scoping import scope_for

from .models import Settlement

Role = Membership.Role


@dataclass(frozen=True)
class QueueItem:
    label: str
    count: int
    url: str


def settlement_work_queue(user: Any) -> list[QueueItem]:
    """Settlements waiting for ``user``: to take up and review (reviewers), to
    approve or confirm and to pay (finance officers), in their own districts."""
    scope = scope_for(user)
    reviewing = scope.districts_with_role(Role.REVIEWER)
    paying = scope.districts_with_role(Role.FINANCE_OFFICER)
    base = Settlement.objects.all()
    changelist = reverse("admin:settlements_settlement_changelist")
    items: list[QueueItem] = []
    if reviewing:
        mine = base.filter(program__district__in=reviewing)
        items.append(
            QueueItem(
                _("Settlements submitted, to take up"),
                mine.filter(status=Settlement.Status.SUBMITTED).count(),
                f"{changelist}?status__exact=submitted",
            )
        )
        items.append(
            QueueItem(
                _("Settlements under review, to pass on or return"),
                mine.filter(
                    status=Settlement.Status.UNDER_REVIEW, reviewed_at__isnull=True
                ).count(),
                f"{changelist}?status__exact=under_review",
            )
        )
    if paying:
        mine = base.filter(program__district__in=paying)
        items.append(
            QueueItem(
                _("Settlements passed to finance, to approve"),
                mine.filter(status=Settlement.Status.UNDER_REVIEW, reviewed_at__isnull=False)
                .exclude(
                    Q(review_started_by=user) | Q(reviewed_by=user) | Q(first_approved_by=user)
                )
                .count(),
                f"{changelist}?status__exact=under_review",
            )
        )
        items.append(
            QueueItem(
                _("Approved settlements not yet paid in full"),
                mine.filter(status=Settlement.Status.APPROVED)
                .filter(paid_amount__lt=F("approved_amount"))
                .count(),
                f"{changelist}?status__exact=approved",
            )
        )
    return items
