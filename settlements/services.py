"""Writes of settlements: drawing them when a period ends, the platform's
submission, review line by line, finance approval (four eyes above the
program's threshold) and payments.

Every service is one transaction that locks the settlement row, checks the
transition and the actor's role in the program's own district (the same
check the pages use to offer the action), and records an audit event. A
rejected line is reversed on its voucher through the voucher services, so
the ledger and the enterprise see it.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accounts.models import ComputePlatform
from audit import events
from audit.services import Actor
from common.errors import Code
from common.formatting import amount as format_amount
from platforms.catalog import POINTS_PER_YUAN
from programs.models import Program
from vouchers.models import Redemption
from vouchers.services import redemption_reverse

from .drawing import settlements_draw
from .models import Payment, Settlement, SettlementLine
from .records import _audit, _check, _locked, _recount, _refuse, payment_checked

# --- The platform's side -----------------------------------------------------


@transaction.atomic
def settlement_submit(
    *,
    actor: Actor,
    platform: ComputePlatform,
    settlement_id: Any,
    invoice_number: str,
    invoice_amount: Decimal,
    note: str = "",
    request_evidence: dict[str, Any] | None = None,
) -> Settlement:
    """The platform submits its settlement with its invoice.

    ``platform`` is the platform that asks (the signing key's, or the
    operator's on the operator pages): another platform's settlement is
    not found. The invoice must be for exactly the amount due."""
    not_found = _refuse(_("No such settlement."), "settlement", code=Code.SETTLEMENT_NOT_FOUND)
    if isinstance(settlement_id, bool) or not isinstance(settlement_id, int):
        raise not_found
    if not Settlement.objects.filter(pk=settlement_id, platform=platform).exists():
        raise not_found
    settlement = _locked(settlement_id)
    invoice_number = (invoice_number or "").strip() if isinstance(invoice_number, str) else ""
    if not invoice_number or len(invoice_number) > 100:
        raise _refuse(_("Give the invoice number (at most 100 characters)."), "invoice_number")
    if not isinstance(note, str) or len(note) > 2000:
        raise _refuse(_("The note is text of at most 2000 characters."), "note")
    if not isinstance(invoice_amount, Decimal) or not invoice_amount.is_finite():
        raise _refuse(_("Give the invoice amount as a decimal string."), "invoice_amount")
    if not can_proceed(settlement.submit):
        raise _refuse(
            _("Only a draft or returned settlement can be submitted; this one is %(status)s.")
            % {"status": settlement.get_status_display()},
            code=Code.SETTLEMENT_NOT_OPEN,
        )
    if invoice_amount != settlement.amount_due:
        raise _refuse(
            _("The invoice is for %(invoice)s but the settlement's amount due is %(due)s.")
            % {
                "invoice": format_amount(invoice_amount, settlement.unit),
                "due": format_amount(settlement.amount_due, settlement.unit),
            },
            "invoice_amount",
            code=Code.SETTLEMENT_AMOUNT_MISMATCH,
        )
    before = settlement.status
    settlement.submit(
        invoice_number=invoice_number,
        invoice_amount=invoice_amount,
        note=note,
        at=timezone.now(),
    )
    settlement.submission_evidence = request_evidence
    settlement.submitted_by = actor.label[:200]
    settlement.save()
    _audit(settlement, actor, events.SETTLEMENT_SUBMITTED, before=before, note=note)
    return settlement


# --- The district's side ------------------------------------------------------


@transaction.atomic
def settlement_start_review(*, actor: Actor, settlement: Settlement) -> Settlement:
    """A reviewer of the program's district takes a submitted settlement up;
    the program's four-eyes threshold in force now binds it."""
    settlement = _locked(settlement)
    if actor.user is None or not settlement.may_review(actor.user):
        raise PermissionDenied(_("You may not do this."))
    _check(settlement.start_review, actor, _("Only a submitted settlement can be taken up."))
    before = settlement.status
    threshold = settlement.program.settlement_four_eyes_threshold
    settlement.start_review(by=actor.user, at=timezone.now(), threshold=threshold)
    settlement.first_approved_at = None
    settlement.first_approved_by = None
    settlement.save()
    _audit(
        settlement,
        actor,
        events.SETTLEMENT_REVIEW_STARTED,
        before=before,
        extra={"four_eyes_threshold": str(threshold) if threshold is not None else None},
    )
    return settlement


def _require_reason(reason: str, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise _refuse(_("Give the reason: the platform reads it."), field)
    if len(reason) > 2000:
        raise _refuse(_("The reason is text of at most 2000 characters."), field)
    return reason


@transaction.atomic
def settlement_line_reject(*, actor: Actor, line: SettlementLine, reason: str) -> SettlementLine:
    """A reviewer rejects a charge of a settlement under review, with a reason.

    The charge's covered amount not yet reversed goes back to its voucher
    (a reversal through the voucher services, so the ledger and the
    enterprise see it), and the line, with any reversal line of the same
    charge in this settlement, leaves the amount due."""
    reason = _require_reason(reason)
    settlement = _locked(line.settlement_id)
    if actor.user is None or not settlement.may_review(actor.user):
        raise PermissionDenied(_("You may not do this."))
    if settlement.status != Settlement.Status.UNDER_REVIEW or not (
        settlement.reviewed_at is None and settlement.first_approved_at is None
    ):
        raise _refuse(
            _(
                "Lines are rejected while the settlement is under review, before it goes to finance."
            ),
            code=Code.SETTLEMENT_NOT_OPEN,
        )
    line = SettlementLine.objects.select_for_update().get(pk=line.pk, settlement=settlement)
    if line.kind != SettlementLine.Kind.CAPTURE:
        raise _refuse(_("Only a charge can be rejected; a reversal only lowers the amount due."))
    if line.status == SettlementLine.Status.REJECTED:
        raise _refuse(_("This line is already rejected."))
    now = timezone.now()
    redemption = Redemption.objects.get(pk=line.redemption_id)
    reversal = None
    if redemption.reversible_amount > 0:
        result = redemption_reverse(
            actor=actor,
            platform=settlement.platform,
            redemption_id=redemption.pk,
            amount=redemption.reversible_amount,
            reference=f"cv-settlement-{settlement.pk}-line-{line.pk}",
            reason=reason,
        )
        reversal = result.reversal
    line.status = SettlementLine.Status.REJECTED
    line.rejection_reason = reason
    line.rejected_at = now
    line.rejected_by = actor.user
    line.rejection_reversal = reversal
    line.save()
    # The charge's own refunds in this settlement fall with it.
    SettlementLine.objects.filter(
        settlement=settlement,
        kind=SettlementLine.Kind.REVERSAL,
        redemption_id=line.redemption_id,
        status=SettlementLine.Status.INCLUDED,
    ).update(
        status=SettlementLine.Status.REJECTED,
        rejection_reason=reason,
        rejected_at=now,
        rejected_by=actor.user,
    )
    _recount(settlement)
    settlement.save(update_fields=["covered", "reversed", "rejected", "amount_due", "line_count"])
    _audit(
        settlement,
        actor,
        events.SETTLEMENT_LINE_REJECTED,
        note=reason,
        extra={
            "line": line.pk,
            "redemption": line.redemption_id,
            "reference": line.reference,
            "covered": str(line.covered),
            "reversal": reversal.pk if reversal is not None else None,
        },
    )
    return line


@transaction.atomic
def settlement_return(*, actor: Actor, settlement: Settlement, reason: str) -> Settlement:
    """Back to the platform for changes; it may resubmit. Rejected lines stay rejected."""
    reason = _require_reason(reason)
    settlement = _locked(settlement)
    _check(
        settlement.return_for_changes,
        actor,
        _("Only a settlement under review, not yet with finance, can be returned."),
    )
    before = settlement.status
    settlement.return_for_changes(reason=reason, at=timezone.now())
    settlement.save()
    _audit(settlement, actor, events.SETTLEMENT_RETURNED, before=before, note=reason)
    return settlement


@transaction.atomic
def settlement_pass_on(*, actor: Actor, settlement: Settlement, note: str = "") -> Settlement:
    """The reviewer is done with the lines and passes the settlement to finance."""
    settlement = _locked(settlement)
    _check(
        settlement.pass_on,
        actor,
        _("Only a settlement under review, not yet with finance, can be passed on."),
    )
    before = settlement.status
    settlement.pass_on(by=actor.user, at=timezone.now())
    settlement.save()
    _audit(settlement, actor, events.SETTLEMENT_PASSED_ON, before=before, note=note)
    return settlement


@transaction.atomic
def settlement_approve(*, actor: Actor, settlement: Settlement, note: str = "") -> Settlement:
    """Finance approves the amount due of a settlement passed on by review.

    Above the threshold frozen at review start the first approval only
    records the officer, and a second, different finance officer confirms.
    The amount approved is the amount of the included lines: to pay less,
    reviewers reject lines (each with its reason), never a bare figure."""
    settlement = _locked(settlement)
    refusal = _("Only a settlement passed on by its reviewer can be approved.")
    if settlement.status != Settlement.Status.UNDER_REVIEW:
        raise _refuse(refusal, code=Code.SETTLEMENT_NOT_OPEN)
    if actor.user is None or not settlement.may_approve(actor.user):
        raise PermissionDenied(
            _("Only a finance officer of the program's district who did not review it may approve.")
        )
    before = settlement.status
    now = timezone.now()
    step = settlement.approval_step()
    if step == "approve_second" and actor.user.pk == settlement.first_approved_by_id:
        raise PermissionDenied(_("The second approval must come from another finance officer."))
    transition = getattr(settlement, step)
    _check(transition, actor, refusal)
    transition(by=actor.user, at=now)
    event = (
        events.SETTLEMENT_FIRST_APPROVAL if step == "approve_first" else events.SETTLEMENT_APPROVED
    )
    if settlement.status == Settlement.Status.APPROVED and (settlement.approved_amount or 0) <= 0:
        # Nothing to pay (every line rejected, or refunds outweigh charges):
        # settled at approval.
        settlement.mark_paid(at=now, reference="")
    settlement.save()
    _audit(settlement, actor, event, before=before, note=note)
    return settlement


def yuan_of(amount: Decimal, unit: str) -> Decimal:
    """What ``amount`` of a settlement in ``unit`` is in yuan (to the fen)."""
    if unit == Program.Unit.POINTS:
        return (amount / POINTS_PER_YUAN).quantize(Decimal("0.01"))
    return amount


@transaction.atomic
def settlement_payment_record(
    *,
    actor: Actor,
    settlement: Settlement,
    amount: Decimal,
    paid_on: datetime.date,
    payer_account: str,
    bank_reference: str,
    batch: Any = None,
) -> Payment:
    """Record money paid against an approved settlement: never more than is
    approved and not yet paid; the payment that makes it whole marks it paid."""
    settlement = _locked(settlement)
    payer_account, bank_reference = payment_checked(
        settlement,
        actor=actor,
        amount=amount,
        paid_on=paid_on,
        payer_account=payer_account,
        bank_reference=bank_reference,
        batch=batch,
    )
    payment = Payment.objects.create(
        settlement=settlement,
        amount=amount,
        amount_cny=yuan_of(amount, settlement.unit),
        paid_on=paid_on,
        payer_account=payer_account,
        bank_reference=bank_reference,
        batch=batch,
        recorded_by=actor.user,
    )
    before = settlement.status
    settlement.paid_amount = settlement.paid_amount + amount
    settlement.payment_reference = bank_reference
    if can_proceed(settlement.mark_paid):
        settlement.mark_paid(at=timezone.now(), reference=bank_reference)
    settlement.save()
    _audit(
        settlement,
        actor,
        events.SETTLEMENT_PAYMENT_RECORDED,
        before=before,
        extra={
            "payment": payment.pk,
            "amount": str(amount),
            "paid_on": paid_on.isoformat(),
            "bank_reference": bank_reference,
        },
    )
    if settlement.status == Settlement.Status.PAID:
        _audit(settlement, actor, events.SETTLEMENT_PAID, before=before)
    return payment


__all__ = [
    "settlement_approve",
    "settlement_line_reject",
    "settlement_pass_on",
    "settlement_payment_record",
    "settlement_return",
    "settlement_start_review",
    "settlement_submit",
    "settlements_draw",
    "yuan_of",
]
