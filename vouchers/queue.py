"""What waits for an official in vouchers (see :mod:`common.work_queue`;
registered in ``VouchersConfig.ready``): the active vouchers of their
programs about to expire, for the program managers of the district, who
remind the enterprise or plan what returns to the budget."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from accounts.scoping import scope_for
from common.work_queue import Urgency, WorkKind, register

from .models import Voucher

#: How many days ahead a voucher's last valid day puts it in the queue.
EXPIRY_NOTICE_DAYS = 30


def expiring_soon(*, now: datetime.datetime | None = None) -> QuerySet[Voucher]:
    """Active vouchers whose last valid day (Asia/Shanghai) is today or within
    the next :data:`EXPIRY_NOTICE_DAYS` days."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    # The last valid day is the day before the (Shanghai) day of expires_at.
    beyond = today + datetime.timedelta(days=EXPIRY_NOTICE_DAYS + 2)
    first_moment_beyond = datetime.datetime.combine(
        beyond, datetime.time.min, tzinfo=timezone.get_default_timezone()
    )
    return Voucher.objects.filter(
        status=Voucher.Status.ACTIVE, expires_at__gt=now, expires_at__lt=first_moment_beyond
    )


def _expiring(user: Any) -> QuerySet[Voucher] | None:
    districts = scope_for(user).districts_with_role(Membership.Role.PROGRAM_MANAGER)
    if not districts:
        return None
    return expiring_soon().filter(program__district__in=districts)


def register_work() -> None:
    """Add the vouchers' kinds of work to the officials' work queue."""
    register(
        WorkKind(
            "vouchers.expiring",
            Voucher,
            _("Active vouchers expiring within 30 days"),
            Membership.Role.PROGRAM_MANAGER.label,
            Urgency.DEADLINE,
            _expiring,
        )
    )
