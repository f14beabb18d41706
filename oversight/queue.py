"""What waits for an official in oversight (see :mod:`common.work_queue`;
registered in ``OversightConfig.ready``): the open anomaly flags of their
districts, for the program managers and reviewers who decide them
(:func:`oversight.models.may_decide_flag`); auditors read flags but never
decide them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from accounts.scoping import scope_for
from common.work_queue import Urgency, WorkKind, register

from .models import AnomalyFlag

Role = Membership.Role


def _flags_to_decide(user: Any) -> QuerySet[AnomalyFlag] | None:
    scope = scope_for(user)
    districts = scope.districts_with_role(Role.PROGRAM_MANAGER, Role.REVIEWER)
    if not districts:
        return None
    # Not the flags about an enterprise the user is a member of (separation of duties).
    return AnomalyFlag.objects.filter(
        district__in=districts, status=AnomalyFlag.Status.OPEN
    ).exclude(enterprise__in=scope.enterprise_ids)


def register_work() -> None:
    """Add the anomaly flags to decide to the officials' work queue."""
    register(
        WorkKind(
            "oversight.flags_to_decide",
            AnomalyFlag,
            _("Anomaly flags to decide"),
            _("Program manager or reviewer"),
            Urgency.DECIDE,
            _flags_to_decide,
        )
    )
