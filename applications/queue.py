"""What waits for an official in applications (see :mod:`common.work_queue`;
registered in ``ApplicationsConfig.ready``): applications to take up, to
decide and to approve a second time (reviewers of the program's district),
and bulk issuances waiting for a second program manager's confirmation.

The one who gave the first approval, or uploaded the batch, never sees it
among the second approvals: no official acting alone."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from accounts.scoping import scope_for
from common.work_queue import Urgency, WorkKind, register

from .models import Application, BulkIssuance

Role = Membership.Role
Status = Application.Status


def _applications(user: Any, status: str) -> QuerySet[Application] | None:
    """The applications in ``status`` of the programs of the districts where
    ``user`` reviews, without those of an enterprise the user is a member of
    (separation of duties)."""
    scope = scope_for(user)
    districts = scope.districts_with_role(Role.REVIEWER)
    if not districts:
        return None
    return Application.objects.filter(program__district__in=districts, status=status).exclude(
        enterprise__in=scope.enterprise_ids
    )


def _to_take_up(user: Any) -> QuerySet[Application] | None:
    return _applications(user, Status.SUBMITTED)


def _to_decide(user: Any) -> QuerySet[Application] | None:
    return _applications(user, Status.UNDER_REVIEW)


def _second_approval(user: Any) -> QuerySet[Application] | None:
    waiting = _applications(user, Status.AWAITING_SECOND_APPROVAL)
    return None if waiting is None else waiting.exclude(first_approved_by=user)


def _bulk_second_approval(user: Any) -> QuerySet[BulkIssuance] | None:
    districts = scope_for(user).districts_with_role(Role.PROGRAM_MANAGER)
    if not districts:
        return None
    return BulkIssuance.objects.filter(
        program__district__in=districts, status=BulkIssuance.Status.AWAITING_SECOND_APPROVAL
    ).exclude(created_by=user)


def register_work() -> None:
    """Add the applications' kinds of work to the officials' work queue."""
    register(
        WorkKind(
            "applications.second_approval",
            Application,
            _("Applications awaiting a second approval"),
            Role.REVIEWER.label,
            Urgency.SECOND_APPROVAL,
            _second_approval,
        ),
        WorkKind(
            "applications.bulk_second_approval",
            BulkIssuance,
            _("Bulk issuances awaiting a second official's confirmation"),
            Role.PROGRAM_MANAGER.label,
            Urgency.SECOND_APPROVAL,
            _bulk_second_approval,
        ),
        WorkKind(
            "applications.under_review",
            Application,
            _("Applications under review, to decide"),
            Role.REVIEWER.label,
            Urgency.DECIDE,
            _to_decide,
        ),
        WorkKind(
            "applications.submitted",
            Application,
            _("Applications submitted, to take up"),
            Role.REVIEWER.label,
            Urgency.TAKE_UP,
            _to_take_up,
        ),
    )
