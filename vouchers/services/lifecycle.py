"""A voucher's life after issuance: activation and expiry (the periodic
tasks), and the officials' actions — suspend, resume, revoke and claw back —
each with a reason, offered only when :func:`voucher_action_refusal` has
none."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accounts.duties import duties_conflict
from audit import events
from audit.services import Actor, audit_record
from common.errors import BusinessError, Code
from vouchers.models import Hold, LedgerEntry, Receivable, Voucher, official_may
from vouchers.services.holds import release_hold
from vouchers.services.inputs import checked_amount
from vouchers.services.ledger_writes import (
    activate_if_due,
    audit_transition,
    locked_voucher,
    program_return,
    record_change,
    return_remainder,
    settle_status,
)
from vouchers.services.responses import format_amount


@transaction.atomic
def voucher_activate(*, voucher_id: int) -> bool:
    """Activate an issued voucher whose valid-from has come; idempotent."""
    voucher = locked_voucher(platform=None, voucher_id=voucher_id)
    fields = activate_if_due(voucher, actor=Actor.system("voucher-activation"))
    if fields:
        voucher.save(update_fields=fields)
    return bool(fields)


def _release_open_holds(voucher: Voucher, *, actor: Actor, note: str) -> None:
    for hold in voucher.holds.filter(status=Hold.Status.OPEN).select_related("platform"):
        release_hold(
            voucher,
            hold,
            amount=hold.amount,
            actor=actor,
            status=Hold.Status.EXPIRED,
            evidence=None,
            note=note,
        )


@transaction.atomic
def voucher_expire(*, voucher_id: int) -> bool:
    """Expire a voucher at its expiry: release its holds and return the
    remainder to the program's budget; idempotent."""
    actor = Actor.system("voucher-expiry")
    voucher = locked_voucher(platform=None, voucher_id=voucher_id)
    if voucher.status not in Voucher.OPEN or not voucher.is_expired():
        return False
    before = voucher.status
    _release_open_holds(voucher, actor=actor, note=_("Released because the voucher expired."))
    return_remainder(voucher, kind=LedgerEntry.Kind.EXPIRY, actor=actor)
    voucher.expire()
    voucher.save(update_fields=["balance", "held", "status"])
    audit_transition(voucher, actor=actor, event_type=events.VOUCHER_EXPIRED, before=before)
    return True


OFFICIAL_ACTIONS = {
    "suspend": ("suspend", "vouchers.suspend_voucher"),
    "resume": ("resume", "vouchers.suspend_voucher"),
    "revoke": ("revoke", "vouchers.revoke_voucher"),
    "clawback": ("claw_back", "vouchers.clawback_voucher"),
}


def voucher_action_refusal(*, voucher: Voucher, user: Any, action: str) -> str | None:
    """Why ``user`` may not take ``action`` on ``voucher`` now, or None when
    they may. The admin offers only actions with no refusal; the services
    ask the same question."""
    method_name, perm = OFFICIAL_ACTIONS[action]
    method = getattr(voucher, method_name)
    conflict = duties_conflict(user=user, enterprise_id=voucher.enterprise_id)
    if conflict is not None:
        return conflict
    if not official_may(perm)(voucher, user):
        return _("Only a program manager of the voucher's district may do this.")
    if not can_proceed(method, check_conditions=False):
        return _("Not possible while the voucher is %(status)s.") % {
            "status": voucher.get_status_display().lower()
        }
    if action == "resume" and voucher.is_expired():
        return _("The voucher's validity has ended.")
    if action == "clawback" and _net_covered(voucher) <= 0:
        return _("Nothing was covered by this voucher, so there is nothing to claw back.")
    # Open holds do not stand in the way: revocation and clawback release
    # them first (the transitions' own conditions are checked when they run).
    return None


def _net_covered(voucher: Voucher) -> Decimal:
    totals = voucher.redemptions.aggregate(covered=Sum("covered"), reversed=Sum("reversed_amount"))
    return (totals["covered"] or Decimal("0")) - (totals["reversed"] or Decimal("0"))


def _official_checks(voucher: Voucher, *, actor: Actor, action: str, reason: str) -> str:
    refusal = voucher_action_refusal(voucher=voucher, user=actor.user, action=action)
    if refusal is not None:
        if not official_may(OFFICIAL_ACTIONS[action][1])(voucher, actor.user):
            raise PermissionDenied(refusal)
        raise BusinessError(Code.VALIDATION_ERROR, refusal, None)
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError(Code.VALIDATION_ERROR, _("Please give a reason."), "reason")
    return reason


@transaction.atomic
def voucher_suspend(*, actor: Actor, voucher: Voucher, reason: str) -> Voucher:
    """Suspend an active voucher (an official, with a reason)."""
    voucher = locked_voucher(platform=None, voucher_id=voucher.pk)
    reason = _official_checks(voucher, actor=actor, action="suspend", reason=reason)
    before = voucher.status
    voucher.suspend(reason=reason)
    voucher.save(update_fields=["status", "status_reason"])
    audit_transition(
        voucher, actor=actor, event_type=events.VOUCHER_SUSPENDED, before=before, note=reason
    )
    return voucher


@transaction.atomic
def voucher_resume(*, actor: Actor, voucher: Voucher, reason: str) -> Voucher:
    """Make a suspended voucher active again (an official, with a reason)."""
    voucher = locked_voucher(platform=None, voucher_id=voucher.pk)
    reason = _official_checks(voucher, actor=actor, action="resume", reason=reason)
    before = voucher.status
    voucher.resume(reason=reason)
    fields = ["status", "status_reason"]
    fields += settle_status(voucher, actor=actor)
    voucher.save(update_fields=list(dict.fromkeys(fields)))
    audit_transition(
        voucher, actor=actor, event_type=events.VOUCHER_RESUMED, before=before, note=reason
    )
    return voucher


@transaction.atomic
def voucher_revoke(*, actor: Actor, voucher: Voucher, reason: str) -> Voucher:
    """Revoke a voucher (an official, with a reason): open holds are released
    and the remainder returns to the program's budget."""
    voucher = locked_voucher(platform=None, voucher_id=voucher.pk)
    reason = _official_checks(voucher, actor=actor, action="revoke", reason=reason)
    before = voucher.status
    _release_open_holds(voucher, actor=actor, note=_("Released because the voucher was revoked."))
    return_remainder(voucher, kind=LedgerEntry.Kind.REVOCATION, actor=actor, note=reason)
    voucher.revoke(reason=reason)
    voucher.save(update_fields=["balance", "held", "status", "status_reason"])
    audit_transition(
        voucher, actor=actor, event_type=events.VOUCHER_REVOKED, before=before, note=reason
    )
    return voucher


@transaction.atomic
def voucher_claw_back(
    *, actor: Actor, voucher: Voucher, reason: str, amount: Decimal | None = None
) -> Receivable:
    """Recover covered amounts after a breached obligation.

    The voucher ends (holds released, remainder returned); the recovered
    amount (by default everything covered, net of reversals) goes back to
    the program's budget as a clawback ledger entry, and a receivable is
    raised against the enterprise.
    """
    voucher = locked_voucher(platform=None, voucher_id=voucher.pk)
    reason = _official_checks(voucher, actor=actor, action="clawback", reason=reason)
    net = _net_covered(voucher)
    recovered = (
        net if amount is None else checked_amount(amount, unit=voucher.unit, field_name="amount")
    )
    if recovered > net:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("At most %(net)s was covered by this voucher.")
            % {"net": format_amount(net, voucher.unit)},
            "amount",
        )
    before = voucher.status
    _release_open_holds(voucher, actor=actor, note=_("Released because of a clawback."))
    return_remainder(voucher, kind=LedgerEntry.Kind.REVOCATION, actor=actor, note=reason)
    program = voucher.program
    program_return(program, recovered)
    record_change(
        voucher,
        kind=LedgerEntry.Kind.CLAWBACK,
        amount=recovered,
        program_return=recovered,
        actor=actor,
        note=reason,
    )
    voucher.claw_back(reason=reason)
    voucher.save(update_fields=["balance", "held", "status", "status_reason"])
    audit_transition(
        voucher, actor=actor, event_type=events.VOUCHER_CLAWED_BACK, before=before, note=reason
    )
    receivable = Receivable.objects.create(
        voucher=voucher,
        enterprise_id=voucher.enterprise_id,
        program=program,
        amount=recovered,
        unit=voucher.unit,
        reason=reason,
        created_by=actor.label[:200],
    )
    audit_record(
        actor=actor,
        event_type=events.RECEIVABLE_CREATED,
        obj=receivable,
        after={"voucher": voucher.code, "amount": str(recovered), "unit": voucher.unit},
        district_id=program.district_id,
        enterprise_id=voucher.enterprise_id,
        note=reason,
    )
    return receivable
