"""What every settlement service shares: refusals, the transition check, the
row lock, the audit event with the settlement's figures, and the totals
recounted from the lines."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from audit.services import Actor, audit_record
from common.errors import BusinessError, Code
from common.formatting import amount as format_amount

from .models import ZERO, Payment, Settlement, SettlementLine


def _refuse(message: str, field: str | None = None, code: str = Code.VALIDATION_ERROR) -> Exception:
    return BusinessError(code, message, field)


def _check(
    bound_method: Any, actor: Actor, refusal: str, code: str = Code.SETTLEMENT_NOT_OPEN
) -> None:
    """Refuse unless the transition is possible now and the actor may perform
    it (settlements and claims alike; ``code`` is the refusal's API code)."""
    if not can_proceed(bound_method):
        raise _refuse(refusal, code=code)
    if actor.user is None or not has_transition_perm(bound_method, actor.user):
        raise PermissionDenied(_("You may not do this."))


def _locked(settlement: Settlement | int) -> Settlement:
    pk = settlement if isinstance(settlement, int) else settlement.pk
    return (
        Settlement.objects.select_for_update(of=("self",))
        .select_related("program", "platform")
        .get(pk=pk)
    )


def _figures(settlement: Settlement) -> dict[str, Any]:
    return {
        "status": settlement.status,
        "period": settlement.period,
        "lines": settlement.line_count,
        "covered": str(settlement.covered),
        "reversed": str(settlement.reversed),
        "rejected": str(settlement.rejected),
        "amount_due": str(settlement.amount_due),
        "approved_amount": (
            str(settlement.approved_amount) if settlement.approved_amount is not None else None
        ),
        "paid_amount": str(settlement.paid_amount),
    }


def audit_step(
    payout: Any,
    actor: Actor,
    event_type: str,
    *,
    figures: dict[str, Any],
    before: str | None = None,
    note: str = "",
    extra: dict[str, Any] | None = None,
    **party: Any,
) -> None:
    """The audit event of one step of a settlement or a claim: its status
    before, its figures after, in the program's district (``party`` names
    the platform or the enterprise)."""
    audit_record(
        actor=actor,
        event_type=event_type,
        obj=payout,
        district_id=payout.program.district_id,
        before={"status": before} if before else None,
        after={**figures, **(extra or {})},
        note=note,
        **party,
    )


def _audit(
    settlement: Settlement,
    actor: Actor,
    event_type: str,
    *,
    before: str | None = None,
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    audit_step(
        settlement,
        actor,
        event_type,
        figures=_figures(settlement),
        before=before,
        note=note,
        extra=extra,
        platform_id=settlement.platform_id,
    )


def _recount(settlement: Settlement) -> None:
    """Set the settlement's totals from its included lines (lock held)."""
    totals = SettlementLine.objects.filter(settlement=settlement).aggregate(
        in_covered=Sum("covered", filter=Q(status=SettlementLine.Status.INCLUDED)),
        in_reversed=Sum("reversed", filter=Q(status=SettlementLine.Status.INCLUDED)),
        out_covered=Sum("covered", filter=Q(status=SettlementLine.Status.REJECTED)),
    )
    settlement.covered = totals["in_covered"] or ZERO
    settlement.reversed = totals["in_reversed"] or ZERO
    settlement.rejected = totals["out_covered"] or ZERO
    settlement.amount_due = settlement.covered - settlement.reversed
    settlement.line_count = SettlementLine.objects.filter(settlement=settlement).count()


def payment_checked(
    payout: Any,
    *,
    actor: Actor,
    amount: Any,
    paid_on: datetime.date,
    payer_account: str,
    bank_reference: str,
    batch: Any,
) -> tuple[str, str]:
    """The checks every payment passes, of a settlement or of a claim (locked
    by the caller): a finance officer of the program's district, an approved
    payout, never more than is still to be paid, not twice through the
    treasury, a date not in the future, a bank reference used once. Returns
    the cleaned payer account and bank reference."""
    if actor.user is None or not payout.may_pay(actor.user):
        raise PermissionDenied(_("Only a finance officer of the program's district may do this."))
    is_settlement = isinstance(payout, Settlement)
    if payout.status != payout.Status.APPROVED:
        raise _refuse(
            _("Payments are recorded against an approved settlement.")
            if is_settlement
            else _("Payments are recorded against an approved claim."),
            code=Code.SETTLEMENT_NOT_OPEN,
        )
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise _refuse(_("Enter an amount greater than zero."), "amount")
    if amount > payout.outstanding:
        left = {"left": format_amount(payout.outstanding, payout.unit)}
        raise _refuse(
            (
                _("At most %(left)s of this settlement is still to be paid.")
                if is_settlement
                else _("At most %(left)s of this claim is still to be paid.")
            )
            % left,
            "amount",
        )
    if batch is None and payout.is_with_the_treasury():
        # The treasury has the instruction: its confirmation records the
        # payment; a second, manual one could pay twice.
        raise _refuse(
            _(
                "This settlement is in a payment batch sent to the treasury: the bank's "
                "confirmation of that batch records its payment."
            )
            if is_settlement
            else _(
                "This claim is in a payment batch sent to the treasury: the bank's "
                "confirmation of that batch records its payment."
            )
        )
    if paid_on > timezone.localdate():
        raise _refuse(_("A payment date cannot be in the future."), "paid_on")
    payer_account = (payer_account or "").strip()
    bank_reference = (bank_reference or "").strip()
    if not payer_account or len(payer_account) > 100:
        raise _refuse(_("Give the payer's account (at most 100 characters)."), "payer_account")
    if not bank_reference or len(bank_reference) > 100:
        raise _refuse(_("Give the bank's reference (at most 100 characters)."), "bank_reference")
    field = "settlement" if is_settlement else "claim"
    if Payment.objects.filter(**{field: payout}, bank_reference=bank_reference).exists():
        raise _refuse(
            _("A payment with this bank reference is already recorded."), "bank_reference"
        )
    return payer_account, bank_reference
