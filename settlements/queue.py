"""What waits for an official, by the role they hold in each program's
district: the settlements, claims, performance agreements and clawbacks of
the admin's work queue ("Waiting for you").

Claims, agreements and clawbacks appear only to officials whose districts
run a program paying that way (or hold such rows): a district that only
settles with platforms is not shown empty lines about claims."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership
from accounts.scoping import scope_for
from programs.models import Program
from vouchers.models import Receivable

from .models import Claim, PerformanceAgreement, Settlement

Role = Membership.Role


@dataclass(frozen=True)
class QueueItem:
    label: str
    count: int
    url: str


def settlement_work_queue(user: Any) -> list[QueueItem]:
    """Everything waiting for ``user`` in their own districts: settlements,
    then claims, performance agreements and clawbacks (the admin's home)."""
    return [
        *_settlements(user),
        *claim_work_queue(user),
        *agreement_work_queue(user),
    ]


def _settlements(user: Any) -> list[QueueItem]:
    """Settlements to take up and review (reviewers), to approve or confirm
    and to pay (finance officers)."""
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


#: Programs that take claims (reimbursement after purchase, vouchers against a contract).
CLAIM_MODES = (Program.PayoutMode.REIMBURSE, Program.PayoutMode.CONTRACT_VOUCHER)


def _claims_run_in(districts: frozenset[int]) -> bool:
    return Program.objects.filter(district__in=districts, payout_mode__in=CLAIM_MODES).exists()


def claim_work_queue(user: Any) -> list[QueueItem]:
    """Claims to take up and check (reviewers); to approve, to confirm with a
    second approval and to pay (finance officers). A finance officer does not
    see the claims they checked nor those they approved first: another
    officer takes those."""
    scope = scope_for(user)
    reviewing = scope.districts_with_role(Role.REVIEWER)
    paying = scope.districts_with_role(Role.FINANCE_OFFICER)
    changelist = reverse("admin:settlements_claim_changelist")
    Status = Claim.Status
    items: list[QueueItem] = []
    if reviewing and _claims_run_in(reviewing):
        mine = Claim.objects.filter(program__district__in=reviewing)
        items.append(
            QueueItem(
                _("Claims submitted, to take up"),
                mine.filter(status=Status.SUBMITTED).count(),
                f"{changelist}?status__exact=submitted",
            )
        )
        items.append(
            QueueItem(
                _("Claims under the district's check, to pass on, return or reject"),
                mine.filter(status=Status.CHECKING).count(),
                f"{changelist}?status__exact=checking",
            )
        )
    if paying and _claims_run_in(paying):
        waiting = (
            Claim.objects.filter(program__district__in=paying, status=Status.FINANCE)
            .exclude(checked_by=user)
            .exclude(first_approved_by=user)
        )
        items.append(
            QueueItem(
                _("Claims awaiting finance approval"),
                waiting.filter(first_approved_at__isnull=True).count(),
                f"{changelist}?status__exact=finance",
            )
        )
        items.append(
            QueueItem(
                _("Claims awaiting a second approval"),
                waiting.filter(first_approved_at__isnull=False).count(),
                f"{changelist}?status__exact=finance",
            )
        )
        items.append(
            QueueItem(
                _("Approved claims not yet paid in full"),
                Claim.objects.filter(program__district__in=paying, status=Status.APPROVED)
                .exclude(stage=Claim.Stage.PREAPPROVAL)
                .filter(paid_amount__lt=F("approved_amount"))
                .count(),
                f"{changelist}?status__exact=approved",
            )
        )
    return items


def agreement_work_queue(user: Any) -> list[QueueItem]:
    """Agreements whose assessment date has come, to give to an assessor, and
    assessed agreements to decide (program managers; the one who assigned an
    agreement does not decide it); open clawbacks past their due date
    (finance officers)."""
    from .agreements import agreements_due

    scope = scope_for(user)
    managing = scope.districts_with_role(Role.PROGRAM_MANAGER)
    paying = scope.districts_with_role(Role.FINANCE_OFFICER)
    items: list[QueueItem] = []
    if managing and Program.objects.filter(district__in=managing, requires_agreement=True).exists():
        changelist = reverse("admin:settlements_performanceagreement_changelist")
        items.append(
            QueueItem(
                _("Performance agreements due for assessment, to give to an assessor"),
                agreements_due().filter(program__district__in=managing).count(),
                f"{changelist}?status__exact=active",
            )
        )
        items.append(
            QueueItem(
                _("Assessed performance agreements, to decide"),
                PerformanceAgreement.objects.filter(
                    program__district__in=managing,
                    status=PerformanceAgreement.Status.ASSESSED,
                )
                .exclude(assigned_by=user)
                .count(),
                f"{changelist}?status__exact=assessed",
            )
        )
    if paying:
        today = timezone.localdate()
        open_ones = Receivable.objects.filter(
            program__district__in=paying, status=Receivable.Status.OPEN
        )
        if open_ones.exists():
            changelist = reverse("admin:vouchers_receivable_changelist")
            items.append(
                QueueItem(
                    _("Clawbacks past their due date, to collect"),
                    open_ones.filter(due_on__lt=today).count(),
                    f"{changelist}?status__exact=open&due_on__lt={today.isoformat()}",
                )
            )
    return items
