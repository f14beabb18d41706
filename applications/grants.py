"""The checks every grant of vouchers goes through, whichever door it takes.

An approved application and a row of a bulk issuance file both end in a
voucher of a program for an enterprise. They answer the same questions here,
in one place: may this official act on this enterprise (separation of
duties), may the enterprise receive vouchers (verified, registered in the
district unless the program is nationwide, admitted by the program's rule
set), and does the amount fit (per-enterprise cap with what the enterprise
already holds, the remaining budget). Each check returns its reasons, so the
pages explain and the services refuse with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext as _

from accounts.duties import duties_conflict
from accounts.models import Enterprise
from common.formatting import money
from eligibility.duplicates import locality_flags
from eligibility.evaluator import Decision
from programs.models import Program
from vouchers.services.issuance import cap_refusal, issued_to

from .models import Application
from .selectors import program_eligibility


def granted_to(*, program: Program, enterprise_id: int) -> Decimal:
    """What ``program`` has granted the enterprise so far: its vouchers (by
    application or bulk issuance, whatever became of them) and approved
    applications not yet issued."""
    issued = issued_to(program=program, enterprise_id=enterprise_id)
    approved = Application.objects.filter(
        program=program,
        enterprise_id=enterprise_id,
        status=Application.Status.APPROVED,
        voucher__isnull=True,
    ).aggregate(total=Sum("approved_amount"))["total"] or Decimal("0")
    return issued + approved


def amount_refusal(
    *, program: Program, enterprise_id: int, amount: Decimal, pending: Decimal = Decimal("0")
) -> str | None:
    """Why ``amount`` cannot be granted to the enterprise from ``program``
    now (``program`` the locked row when it reserves), or None.

    ``pending`` is what the same request grants before this amount (earlier
    rows of a file), counted against the remaining budget.
    """
    if amount <= 0:
        return _("Enter an amount greater than zero.")
    if amount > program.per_enterprise_cap:
        return cap_refusal(program=program, already=Decimal("0"), amount=amount)
    remaining = program.remaining_amount - pending
    if remaining < amount:
        return _("Only %(remaining)s of the budget is left; %(amount)s cannot be approved.") % {
            "remaining": money(max(remaining, Decimal("0"))),
            "amount": money(amount),
        }
    already = granted_to(program=program, enterprise_id=enterprise_id)
    return cap_refusal(program=program, already=already, amount=amount)


@dataclass
class GrantCheck:
    """The outcome of the checks for one grant: the reasons it is refused
    (empty: it may go ahead) and the eligibility decision, line by line."""

    refusals: list[str] = field(default_factory=list)
    decision: Decision | None = None

    @property
    def ok(self) -> bool:
        return not self.refusals


def verification_refusal(enterprise: Enterprise) -> str | None:
    """Why ``enterprise`` may not receive vouchers for its status, or None:
    whatever the door (an approved application, a bulk issuance row), public
    money goes only to an enterprise the district has verified."""
    if enterprise.status == Enterprise.Status.VERIFIED:
        return None
    return _("The enterprise is %(status)s; vouchers go only to verified enterprises.") % {
        "status": enterprise.get_status_display().lower()
    }


def enterprise_refusals(*, program: Program, enterprise: Enterprise, user: Any) -> GrantCheck:
    """Why ``user`` may not grant vouchers of ``program`` to ``enterprise``
    directly (without an application, whose review answers these), with the
    program's eligibility decision for the explanation."""
    check = GrantCheck()
    conflict = duties_conflict(user=user, enterprise_id=enterprise.pk)
    if conflict is not None:
        check.refusals.append(conflict)
    unverified = verification_refusal(enterprise)
    if unverified is not None:
        check.refusals.append(unverified)
    check.refusals.extend(
        str(flag.message)
        for flag in locality_flags(enterprise, program.district, nationwide=program.cross_region)
    )
    check.decision = program_eligibility(program=program, enterprise=enterprise)
    if not check.decision.eligible:
        check.refusals.append(
            _("The enterprise does not meet this program's conditions: %(reasons)s")
            % {"reasons": "; ".join(check.decision.failed_reasons())}
        )
    return check
