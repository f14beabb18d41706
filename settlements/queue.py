"""What waits for an official in settlements, by the role they hold in each
program's district: the settlements, claims, performance agreements and
clawbacks of the admin's work queue ("Waiting for you", see
:mod:`common.work_queue`; registered in ``SettlementsConfig.ready``).

Claims, agreements and clawbacks appear only to officials whose districts
run a program paying that way (or hold such rows): a district that only
settles with platforms is not shown empty lines about claims."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from accounts.scoping import scope_for
from common.work_queue import QueueItem, Urgency, WorkKind, register, work_queue
from programs.models import Program
from vouchers.models import Receivable

from .models import Claim, PerformanceAgreement, Settlement

Role = Membership.Role

__all__ = ["QueueItem", "register_work", "settlement_work_queue"]


def settlement_work_queue(user: Any) -> list[QueueItem]:
    """Everything of settlements waiting for ``user`` in their own districts:
    settlements, claims, performance agreements and clawbacks."""
    return work_queue(user, prefix="settlements.")


def _districts(user: Any, role: str) -> frozenset[int]:
    return scope_for(user).districts_with_role(role)


# --- Settlements ---------------------------------------------------------------


def _settlements_of(user: Any, role: str) -> QuerySet[Settlement] | None:
    districts = _districts(user, role)
    return Settlement.objects.filter(program__district__in=districts) if districts else None


def _settlements_submitted(user: Any) -> QuerySet[Settlement] | None:
    mine = _settlements_of(user, Role.REVIEWER)
    return None if mine is None else mine.filter(status=Settlement.Status.SUBMITTED)


def _settlements_in_review(user: Any) -> QuerySet[Settlement] | None:
    mine = _settlements_of(user, Role.REVIEWER)
    if mine is None:
        return None
    return mine.filter(status=Settlement.Status.UNDER_REVIEW, reviewed_at__isnull=True)


def _settlements_to_approve(user: Any) -> QuerySet[Settlement] | None:
    """Passed to finance, first or second approval: never by the official who
    took it up, passed it on or approved it first (no official acting alone)."""
    mine = _settlements_of(user, Role.FINANCE_OFFICER)
    if mine is None:
        return None
    return mine.filter(status=Settlement.Status.UNDER_REVIEW, reviewed_at__isnull=False).exclude(
        Q(review_started_by=user) | Q(reviewed_by=user) | Q(first_approved_by=user)
    )


def _settlements_to_pay(user: Any) -> QuerySet[Settlement] | None:
    mine = _settlements_of(user, Role.FINANCE_OFFICER)
    if mine is None:
        return None
    return mine.filter(status=Settlement.Status.APPROVED, paid_amount__lt=F("approved_amount"))


# --- Claims --------------------------------------------------------------------

#: Programs that take claims (reimbursement after purchase, vouchers against a contract).
CLAIM_MODES = (Program.PayoutMode.REIMBURSE, Program.PayoutMode.CONTRACT_VOUCHER)


def _claims_run_for(role: str) -> Any:
    """Whether a district where the user holds ``role`` runs a program taking claims."""

    def shown(user: Any) -> bool:
        return Program.objects.filter(
            district__in=_districts(user, role), payout_mode__in=CLAIM_MODES
        ).exists()

    return shown


def _claims_of(user: Any, role: str, status: str) -> QuerySet[Claim] | None:
    districts = _districts(user, role)
    if not districts:
        return None
    return Claim.objects.filter(program__district__in=districts, status=status)


def _claims_submitted(user: Any) -> QuerySet[Claim] | None:
    return _claims_of(user, Role.REVIEWER, Claim.Status.SUBMITTED)


def _claims_checking(user: Any) -> QuerySet[Claim] | None:
    return _claims_of(user, Role.REVIEWER, Claim.Status.CHECKING)


def _claims_at_finance(user: Any) -> QuerySet[Claim] | None:
    """At finance, without those ``user`` checked or approved first: another
    officer takes those."""
    waiting = _claims_of(user, Role.FINANCE_OFFICER, Claim.Status.FINANCE)
    if waiting is None:
        return None
    return waiting.exclude(checked_by=user).exclude(first_approved_by=user)


def _claims_to_approve(user: Any) -> QuerySet[Claim] | None:
    waiting = _claims_at_finance(user)
    return None if waiting is None else waiting.filter(first_approved_at__isnull=True)


def _claims_second_approval(user: Any) -> QuerySet[Claim] | None:
    waiting = _claims_at_finance(user)
    return None if waiting is None else waiting.filter(first_approved_at__isnull=False)


def _claims_to_pay(user: Any) -> QuerySet[Claim] | None:
    approved = _claims_of(user, Role.FINANCE_OFFICER, Claim.Status.APPROVED)
    if approved is None:
        return None
    return approved.exclude(stage=Claim.Stage.PREAPPROVAL).filter(
        paid_amount__lt=F("approved_amount")
    )


# --- Performance agreements and clawbacks ----------------------------------------


def _agreements_required(user: Any) -> bool:
    return Program.objects.filter(
        district__in=_districts(user, Role.PROGRAM_MANAGER), requires_agreement=True
    ).exists()


def _agreements_due(user: Any) -> QuerySet[PerformanceAgreement] | None:
    """Agreements whose assessment date has come, to give to an assessor."""
    from .agreements import agreements_due

    districts = _districts(user, Role.PROGRAM_MANAGER)
    if not districts:
        return None
    return agreements_due().prefetch_related(None).filter(program__district__in=districts)


def _agreements_assessed(user: Any) -> QuerySet[PerformanceAgreement] | None:
    """Assessed agreements to decide; the manager who assigned one does not decide it."""
    districts = _districts(user, Role.PROGRAM_MANAGER)
    if not districts:
        return None
    return PerformanceAgreement.objects.filter(
        program__district__in=districts, status=PerformanceAgreement.Status.ASSESSED
    ).exclude(assigned_by=user)


def _open_clawbacks(user: Any) -> QuerySet[Receivable] | None:
    districts = _districts(user, Role.FINANCE_OFFICER)
    if not districts:
        return None
    return Receivable.objects.filter(program__district__in=districts, status=Receivable.Status.OPEN)


def _clawbacks_overdue(user: Any) -> QuerySet[Receivable] | None:
    open_ones = _open_clawbacks(user)
    return None if open_ones is None else open_ones.filter(due_on__lt=timezone.localdate())


def _clawbacks_held(user: Any) -> bool:
    open_ones = _open_clawbacks(user)
    return open_ones is not None and open_ones.exists()


def register_work() -> None:
    """Add settlements' kinds of work to the officials' work queue."""
    U = Urgency
    register(
        WorkKind(
            "settlements.settlements_submitted",
            Settlement,
            _("Settlements submitted, to take up"),
            Role.REVIEWER.label,
            U.TAKE_UP,
            _settlements_submitted,
        ),
        WorkKind(
            "settlements.settlements_in_review",
            Settlement,
            _("Settlements under review, to pass on or return"),
            Role.REVIEWER.label,
            U.DECIDE,
            _settlements_in_review,
        ),
        WorkKind(
            "settlements.settlements_to_approve",
            Settlement,
            _("Settlements passed to finance, to approve"),
            Role.FINANCE_OFFICER.label,
            U.SECOND_APPROVAL,
            _settlements_to_approve,
        ),
        WorkKind(
            "settlements.settlements_to_pay",
            Settlement,
            _("Approved settlements not yet paid in full"),
            Role.FINANCE_OFFICER.label,
            U.PAY,
            _settlements_to_pay,
        ),
        WorkKind(
            "settlements.claims_submitted",
            Claim,
            _("Claims submitted, to take up"),
            Role.REVIEWER.label,
            U.TAKE_UP,
            _claims_submitted,
            _claims_run_for(Role.REVIEWER),
        ),
        WorkKind(
            "settlements.claims_checking",
            Claim,
            _("Claims under the district's check, to pass on, return or reject"),
            Role.REVIEWER.label,
            U.DECIDE,
            _claims_checking,
            _claims_run_for(Role.REVIEWER),
        ),
        WorkKind(
            "settlements.claims_to_approve",
            Claim,
            _("Claims awaiting finance approval"),
            Role.FINANCE_OFFICER.label,
            U.DECIDE,
            _claims_to_approve,
            _claims_run_for(Role.FINANCE_OFFICER),
        ),
        WorkKind(
            "settlements.claims_second_approval",
            Claim,
            _("Claims awaiting a second approval"),
            Role.FINANCE_OFFICER.label,
            U.SECOND_APPROVAL,
            _claims_second_approval,
            _claims_run_for(Role.FINANCE_OFFICER),
        ),
        WorkKind(
            "settlements.claims_to_pay",
            Claim,
            _("Approved claims not yet paid in full"),
            Role.FINANCE_OFFICER.label,
            U.PAY,
            _claims_to_pay,
            _claims_run_for(Role.FINANCE_OFFICER),
        ),
        WorkKind(
            "settlements.agreements_due",
            PerformanceAgreement,
            _("Performance agreements due for assessment, to give to an assessor"),
            Role.PROGRAM_MANAGER.label,
            U.DEADLINE,
            _agreements_due,
            _agreements_required,
        ),
        WorkKind(
            "settlements.agreements_assessed",
            PerformanceAgreement,
            _("Assessed performance agreements, to decide"),
            Role.PROGRAM_MANAGER.label,
            U.DECIDE,
            _agreements_assessed,
            _agreements_required,
        ),
        WorkKind(
            "settlements.clawbacks_overdue",
            Receivable,
            _("Clawbacks past their due date, to collect"),
            Role.FINANCE_OFFICER.label,
            U.OVERDUE,
            _clawbacks_overdue,
            _clawbacks_held,
        ),
    )
