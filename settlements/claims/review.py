"""A claim's review in tiers: the district's check, the assessor's findings,
finance approval (four eyes above the program's threshold) with the budget,
the contract voucher and the performance agreement, and payments."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accounts.duties import duties_conflict
from accounts.models import Membership
from accounts.scoping import scope_for
from audit import events
from audit.services import Actor
from common.formatting import amount as format_amount
from notices.models import Notification
from programs.models import Program
from vouchers.models import LedgerEntry
from vouchers.services import voucher_issue
from vouchers.services.ledger_writes import locked_voucher, record_change, save_voucher

from ..models import (
    ZERO,
    Claim,
    ClaimedInvoice,
    Contract,
    Payment,
)
from ..records import payment_checked
from .contracts import _refuse, _text, _today
from .notices import notify_claimant
from .submission import _audit, _check, _locked, claim_compute

# --- Review in tiers -------------------------------------------------------------


@transaction.atomic
def claim_start_check(*, actor: Actor, claim: Claim) -> Claim:
    """A reviewer of the program's district takes the claim up; the program's
    four-eyes threshold binds from here."""
    claim = _locked(claim)
    _check(claim.start_check, actor, _("Only a submitted claim can be taken up."))
    conflict = duties_conflict(user=actor.user, enterprise_id=claim.enterprise_id)
    if conflict:
        raise PermissionDenied(conflict)
    before = claim.status
    claim.start_check(at=timezone.now(), threshold=claim.program.settlement_four_eyes_threshold)
    claim.save()
    _audit(claim, actor, events.CLAIM_CHECK_STARTED, before=before)
    return claim


def _require_reason(reason: Any, field: str = "reason") -> str:
    return _text(reason, field, limit=2000)


def _require_checking(claim: Claim, actor: Actor) -> None:
    if claim.status != Claim.Status.CHECKING:
        raise _refuse(_("Only a claim under the district's check can be changed so."))
    if actor.user is None or not claim.may_review(actor.user):
        raise PermissionDenied(_("Only a reviewer of the program's district may do this."))


@transaction.atomic
def claim_exclude_invoice(*, actor: Actor, claim: Claim, number: str, reason: Any) -> Claim:
    """The district's check leaves an invoice out (with the reason the
    claimant reads); the amount after the check is recomputed."""
    claim = _locked(claim)
    _require_checking(claim, actor)
    reason = _require_reason(reason)
    held = ClaimedInvoice.objects.filter(claim=claim, number=number, excluded=False).first()
    if held is None:
        raise _refuse(_("That invoice is not counted in this claim."), "number")
    held.excluded = True
    held.exclusion_reason = reason
    held.save(update_fields=["excluded", "exclusion_reason"])
    result = claim_compute(claim)
    claim.checked_arithmetic = {**result.as_json(), "refusals": result.refusals}
    claim.checked_amount = min(result.amount, claim.claimed_amount)
    claim.save()
    _audit(claim, actor, events.CLAIM_INVOICE_EXCLUDED, note=reason, extra={"invoice": number})
    return claim


@transaction.atomic
def claim_return(*, actor: Actor, claim: Claim, reason: Any) -> Claim:
    """Back to the claimant, who corrects and resubmits; what was entered is kept."""
    claim = _locked(claim)
    _require_checking(claim, actor)
    reason = _require_reason(reason)
    before = claim.status
    _check(
        claim.return_for_changes,
        actor,
        _("Only a claim under the district's check can be returned."),
    )
    claim.return_for_changes(reason=reason, at=timezone.now())
    claim.save()
    ClaimedInvoice.objects.filter(claim=claim).update(excluded=False, exclusion_reason="")
    _audit(claim, actor, events.CLAIM_RETURNED, before=before, note=reason)
    notify_claimant(claim=claim, kind=Notification.Kind.CLAIM_RETURNED, note=reason)
    return claim


@transaction.atomic
def claim_reject(*, actor: Actor, claim: Claim, reason: Any) -> Claim:
    """Refuse the claim; its contract and invoice numbers are free again."""
    claim = _locked(claim)
    reason = _require_reason(reason)
    before = claim.status
    _check(claim.reject, actor, _("Only a claim under the district's check can be rejected."))
    claim.reject(reason=reason, at=timezone.now())
    claim.save()
    ClaimedInvoice.objects.filter(claim=claim).delete()
    _audit(claim, actor, events.CLAIM_REJECTED, before=before, note=reason)
    notify_claimant(claim=claim, kind=Notification.Kind.CLAIM_REJECTED, note=reason)
    return claim


@transaction.atomic
def claim_pass_on(*, actor: Actor, claim: Claim, findings: Any, assessor: Any = None) -> Claim:
    """The district's check is done: to the assessor the reviewer names (when
    the program has claims assessed), else straight to finance."""
    claim = _locked(claim)
    _require_checking(claim, actor)
    findings = _require_reason(findings, "findings")
    before = claim.status
    now = timezone.now()
    if claim.checked_amount is None:
        claim.checked_amount = claim.claimed_amount
    if claim.program.claim_requires_assessment:
        if assessor is None:
            raise _refuse(_("Choose the assessor."), "assessor")
        if claim.program.district_id not in scope_for(assessor).assessor_district_ids:
            raise _refuse(_("That person is not an assessor of this district."), "assessor")
        if (
            duties_conflict(user=assessor, enterprise_id=claim.enterprise_id)
            or Membership.objects.filter(user=assessor, enterprise_id=claim.enterprise_id).exists()
        ):
            raise _refuse(_("The assessor is a member of the claimant."), "assessor")
        _check(claim.pass_to_assessor, actor, _("This claim cannot go to an assessor now."))
        claim.pass_to_assessor(by=actor.user, at=now, findings=findings, assessor=assessor)
        event = events.CLAIM_PASSED_TO_ASSESSOR
    else:
        _check(claim.pass_to_finance, actor, _("This claim cannot go to finance now."))
        claim.pass_to_finance(by=actor.user, at=now, findings=findings)
        event = events.CLAIM_PASSED_TO_FINANCE
    claim.save()
    _audit(
        claim,
        actor,
        event,
        before=before,
        note=findings,
        extra={"assessor": getattr(assessor, "email", None)},
    )
    return claim


@transaction.atomic
def claim_assess(*, actor: Actor, claim: Claim, findings: Any, recommended: Any) -> Claim:
    """The assigned assessor records findings and the amount they recommend
    (never more than the amount after the district's check)."""
    claim = _locked(claim)
    if actor.user is None or not claim.may_assess(actor.user):
        raise PermissionDenied(_("Only the assessor assigned to this claim may assess it."))
    findings = _require_reason(findings, "findings")
    if not isinstance(recommended, Decimal) or not recommended.is_finite() or recommended < 0:
        raise _refuse(_("Enter the recommended amount (zero or more)."), "recommended")
    ceiling = claim.checked_amount if claim.checked_amount is not None else claim.claimed_amount
    if recommended > ceiling:
        raise _refuse(
            _("At most %(ceiling)s can be recommended (the amount after the district's check).")
            % {"ceiling": format_amount(ceiling)},
            "recommended",
        )
    if recommended != recommended.quantize(Decimal("0.01")):
        raise _refuse(_("Enter an amount in yuan with at most two decimals."), "recommended")
    before = claim.status
    _check(claim.record_assessment, actor, _("This claim is not with an assessor."))
    claim.record_assessment(at=timezone.now(), findings=findings, recommended=recommended)
    claim.save()
    _audit(claim, actor, events.CLAIM_ASSESSED, before=before, note=findings)
    return claim


@transaction.atomic
def claim_approve(*, actor: Actor, claim: Claim, note: str = "") -> Claim:
    """Finance approves the amount recommended (four eyes above the
    threshold). The approval reserves the budget (a reimbursement), grants
    the contract's voucher (a pre-approval) or draws on it (a redemption),
    and opens the performance agreement the program requires."""
    claim = _locked(claim)
    refusal = _("Only a claim awaiting finance approval can be approved.")
    if claim.status != Claim.Status.FINANCE:
        raise _refuse(refusal)
    if actor.user is None or not claim.may_approve(actor.user):
        raise PermissionDenied(
            _("Only a finance officer of the program's district who did not check it may approve.")
        )
    conflict = duties_conflict(user=actor.user, enterprise_id=claim.enterprise_id)
    if conflict:
        raise PermissionDenied(conflict)
    step = claim.approval_step()
    if step == "approve_second" and actor.user.pk == claim.first_approved_by_id:
        raise PermissionDenied(_("The second approval must come from another finance officer."))
    before = claim.status
    now = timezone.now()
    transition = getattr(claim, step)
    _check(transition, actor, refusal)
    transition(by=actor.user, at=now)
    if claim.status == Claim.Status.APPROVED:
        _on_approval(claim, actor)
    claim.save()
    event = events.CLAIM_FIRST_APPROVAL if step == "approve_first" else events.CLAIM_APPROVED
    _audit(claim, actor, event, before=before, note=note)
    if claim.status == Claim.Status.APPROVED:
        _open_agreement(claim, actor)
    if claim.status in Claim.DECIDED:  # approved (or settled at approval: nothing to pay)
        notify_claimant(
            claim=claim, kind=Notification.Kind.CLAIM_APPROVED, amount=claim.approved_amount
        )
    return claim


def _on_approval(claim: Claim, actor: Actor) -> None:
    amount = claim.approved_amount or ZERO
    program = Program.objects.select_for_update().get(pk=claim.program_id)
    if claim.stage == Claim.Stage.REDEMPTION:
        voucher = locked_voucher(platform=None, voucher_id=claim.voucher_id)
        if amount > voucher.balance:
            raise _refuse(
                _("The contract's voucher has only %(balance)s left.")
                % {"balance": format_amount(voucher.balance)}
            )
        if amount > 0:
            record_change(
                voucher,
                kind=LedgerEntry.Kind.CLAIM,
                amount=amount,
                balance_change=-amount,
                actor=actor,
                note=_("Claim #%(id)s") % {"id": claim.pk},
            )
            save_voucher(voucher, ["balance"])
        return
    if amount > program.remaining_amount:
        raise _refuse(
            _("Only %(remaining)s of the program's budget remains.")
            % {"remaining": format_amount(program.remaining_amount)}
        )
    program.reserved_amount += amount
    program.save(update_fields=["reserved_amount"])
    if claim.stage == Claim.Stage.PREAPPROVAL and amount > 0:
        voucher = voucher_issue(
            actor=actor,
            program=program,
            enterprise=claim.enterprise,
            amount=amount,
            from_reservation=True,
        )
        Contract.objects.filter(pk=claim.contract_id).update(voucher=voucher)
        claim.voucher = voucher
    if amount <= 0:
        # Nothing to pay: settled at approval.
        claim.mark_paid(at=timezone.now())


def _open_agreement(claim: Claim, actor: Actor) -> None:
    if claim.stage == Claim.Stage.REDEMPTION or not claim.program.requires_agreement:
        return
    from ..agreements import agreement_open

    agreement_open(
        actor=actor,
        program=claim.program,
        enterprise=claim.enterprise,
        subsidy=claim.approved_amount or ZERO,
        claim=claim,
        voucher=claim.voucher,
        starts_on=_today(),
    )


@transaction.atomic
def claim_payment_record(
    *,
    actor: Actor,
    claim: Claim,
    amount: Decimal,
    paid_on: datetime.date,
    payer_account: str,
    bank_reference: str,
    batch: Any = None,
) -> Payment:
    """Record money paid to the claimant against an approved claim (the same
    checks as a settlement's payment); the budget's reservation becomes spend."""
    claim = _locked(claim)
    payer_account, bank_reference = payment_checked(
        claim,
        actor=actor,
        amount=amount,
        paid_on=paid_on,
        payer_account=payer_account,
        bank_reference=bank_reference,
        batch=batch,
    )
    payment = Payment.objects.create(
        claim=claim,
        amount=amount,
        amount_cny=amount,
        paid_on=paid_on,
        payer_account=payer_account,
        bank_reference=bank_reference,
        batch=batch,
        recorded_by=actor.user,
    )
    if claim.stage == Claim.Stage.REIMBURSEMENT:
        program = Program.objects.select_for_update().get(pk=claim.program_id)
        program.reserved_amount -= amount
        program.paid_out_amount += amount
        program.save(update_fields=["reserved_amount", "paid_out_amount"])
    before = claim.status
    claim.paid_amount += amount
    if can_proceed(claim.mark_paid):
        claim.mark_paid(at=timezone.now())
    claim.save()
    _audit(
        claim,
        actor,
        events.CLAIM_PAYMENT_RECORDED,
        before=before,
        extra={
            "payment": payment.pk,
            "amount": str(amount),
            "paid_on": paid_on.isoformat(),
            "bank_reference": bank_reference,
        },
    )
    if claim.status == Claim.Status.PAID:
        _audit(claim, actor, events.CLAIM_PAID, before=before)
        notify_claimant(claim=claim, kind=Notification.Kind.CLAIM_PAID, amount=claim.paid_amount)
    return payment
