"""Receivables raised when an agreement's targets are missed (and by a
voucher's clawback): repayments, write-offs and the reminders before and
after the due date."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Membership
from audit import events
from audit.services import Actor
from common.formatting import amount as format_amount
from programs.models import Program
from vouchers.models import Receivable

from .agreements import _audit, _no_conflict, _refuse, _text, shanghai_today
from .models import (
    PerformanceAgreement,
    ReceivableReminder,
    Repayment,
    is_finance_officer_of,
)

CENT = Decimal("0.01")
ZERO = Decimal("0")

# --- The receivable ----------------------------------------------------------


def _locked_receivable(receivable: Receivable, actor: Actor) -> Receivable:
    receivable = (
        Receivable.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=receivable.pk)
    )
    if actor.user is None or not is_finance_officer_of(actor.user, receivable.program.district_id):
        raise PermissionDenied(_("Only a finance officer of the program's district may do this."))
    _no_conflict(actor, receivable.enterprise_id)
    if receivable.status != Receivable.Status.OPEN:
        raise _refuse(
            _("This receivable is %(status)s: nothing is outstanding.")
            % {"status": receivable.get_status_display().lower()},
            "status",
        )
    return receivable


def _checked_amount(receivable: Receivable, amount: Any) -> Decimal:
    if (
        isinstance(amount, bool)
        or not isinstance(amount, Decimal)
        or not amount.is_finite()
        or amount <= 0
        or amount != amount.quantize(CENT)
    ):
        raise _refuse(_("Enter an amount greater than zero, to the fen."), "amount")
    if receivable.unit == Program.Unit.POINTS and amount != amount.to_integral_value():
        raise _refuse(_("Point amounts are whole numbers."), "amount")
    if amount > receivable.outstanding:
        raise _refuse(
            _("At most %(left)s is outstanding.")
            % {"left": format_amount(receivable.outstanding, receivable.unit)},
            "amount",
        )
    return amount.quantize(CENT)


def _close_if_done(receivable: Receivable) -> list[str]:
    """Settle the receivable once nothing is outstanding: settled when it was
    repaid in full, written off when any of it was written off."""
    if receivable.outstanding > 0:
        return []
    receivable.status = (
        Receivable.Status.SETTLED
        if receivable.written_off_amount == 0
        else Receivable.Status.WRITTEN_OFF
    )
    receivable.settled_at = timezone.now()
    return ["status", "settled_at"]


def _figures(receivable: Receivable) -> dict[str, Any]:
    return {
        "status": receivable.status,
        "amount": str(receivable.amount),
        "repaid": str(receivable.repaid_amount),
        "written_off": str(receivable.written_off_amount),
        "outstanding": str(receivable.outstanding),
    }


@transaction.atomic
def receivable_repay(
    *,
    actor: Actor,
    receivable: Receivable,
    amount: Decimal,
    paid_on: datetime.date,
    reference: str,
) -> Repayment:
    """A finance officer of the program's district records money the
    enterprise paid back; it returns to the program's budget.

    A voucher's clawback returned its amount to the budget when it was
    recorded, so repaying that receivable returns nothing a second time."""
    receivable = _locked_receivable(receivable, actor)
    amount = _checked_amount(receivable, amount)
    if not isinstance(paid_on, datetime.date) or isinstance(paid_on, datetime.datetime):
        raise _refuse(_("Give the date of the payment."), "paid_on")
    if paid_on > shanghai_today():
        raise _refuse(_("A payment date cannot be in the future."), "paid_on")
    reference = _text(
        reference, "reference", limit=200, missing=_("Give the bank's reference of the payment.")
    )
    before = receivable.status
    repayment = Repayment.objects.create(
        receivable=receivable,
        kind=Repayment.Kind.REPAYMENT,
        amount=amount,
        paid_on=paid_on,
        reference=reference,
        recorded_by=actor.user,
    )
    receivable.repaid_amount += amount
    fields = ["repaid_amount", *_close_if_done(receivable)]
    receivable.save(update_fields=fields)
    if receivable.voucher_id is None:
        # A claim's clawback: the money is back in the budget (a voucher's
        # clawback returned it already, as a ledger entry).
        program = Program.objects.select_for_update().get(pk=receivable.program_id)
        program.recovered_amount += amount
        program.save(update_fields=["recovered_amount"])
    _audit(
        receivable,
        actor,
        events.RECEIVABLE_REPAID,
        program=receivable.program,
        enterprise_id=receivable.enterprise_id,
        before=before,
        after={
            **_figures(receivable),
            "repayment": repayment.pk,
            "paid": str(amount),
            "paid_on": paid_on.isoformat(),
            "reference": reference,
            "returned_to_budget": str(amount if receivable.voucher_id is None else ZERO),
        },
    )
    return repayment


@transaction.atomic
def receivable_write_off(
    *, actor: Actor, receivable: Receivable, amount: Decimal, reason: str
) -> Repayment:
    """A finance officer writes off what will not be recovered, on a program
    manager's decision that ``reason`` quotes (its reference and why).

    No official acts alone: the officer who raised the receivable, assigned
    its agreement's assessment or decided the agreement may not write it off."""
    receivable = _locked_receivable(receivable, actor)
    amount = _checked_amount(receivable, amount)
    reason = _text(
        reason,
        "reason",
        limit=2000,
        missing=_("Quote the program manager's decision (its reference) and why."),
    )
    agreement = PerformanceAgreement.objects.filter(receivable=receivable).first()
    involved = {agreement.assigned_by_id, agreement.decided_by_id} if agreement else set()
    if actor.user.pk in involved or actor.label == receivable.created_by:
        raise PermissionDenied(
            _("An official who raised or decided this clawback may not write it off.")
        )
    before = receivable.status
    repayment = Repayment.objects.create(
        receivable=receivable,
        kind=Repayment.Kind.WRITE_OFF,
        amount=amount,
        paid_on=shanghai_today(),
        reference=reason[:200],
        recorded_by=actor.user,
    )
    receivable.written_off_amount += amount
    fields = ["written_off_amount", *_close_if_done(receivable)]
    receivable.save(update_fields=fields)
    _audit(
        receivable,
        actor,
        events.RECEIVABLE_WRITTEN_OFF,
        program=receivable.program,
        enterprise_id=receivable.enterprise_id,
        before=before,
        after={**_figures(receivable), "repayment": repayment.pk, "written_off_now": str(amount)},
        note=reason,
    )
    return repayment


# --- Reminders -------------------------------------------------------------

Reminder = ReceivableReminder.Kind


def reminder_kind(due_on: datetime.date, today: datetime.date) -> str | None:
    """Which reminder is due on ``today``: from 7 days before the due date to
    the due date, from the day after it, and from 30 days after it. A run that
    was missed still sends the reminder of its window, later."""
    days = (today - due_on).days
    if -7 <= days <= 0:
        return Reminder.BEFORE_DUE
    if 1 <= days < 30:
        return Reminder.OVERDUE
    if days >= 30:
        return Reminder.OVERDUE_30
    return None


def receivables_remind(*, today: datetime.date | None = None) -> int:
    """Remind enterprises of open receivables 7 days before their due date,
    the day after it and 30 days after it (dates in Shanghai); each reminder
    once. Returns how many were recorded; the e-mails go after the commit."""
    today = today or shanghai_today()
    candidates = Receivable.objects.filter(
        status=Receivable.Status.OPEN,
        due_on__isnull=False,
        due_on__lte=today + datetime.timedelta(days=7),
    ).values_list("pk", flat=True)
    return sum(_remind(pk, today) for pk in list(candidates))


def _remind(receivable_id: int, today: datetime.date) -> bool:
    with transaction.atomic():
        receivable = (
            Receivable.objects.select_for_update(of=("self",))
            .select_related("program", "enterprise")
            .get(pk=receivable_id)
        )
        if receivable.status != Receivable.Status.OPEN or receivable.due_on is None:
            return False
        kind = reminder_kind(receivable.due_on, today)
        if kind is None or receivable.reminders.filter(kind=kind).exists():
            return False
        reminder = ReceivableReminder.objects.create(receivable=receivable, kind=kind)
        _audit(
            receivable,
            Actor.system("receivable-reminders"),
            events.RECEIVABLE_REMINDED,
            program=receivable.program,
            enterprise_id=receivable.enterprise_id,
            after={
                "kind": kind,
                "due_on": receivable.due_on.isoformat(),
                "outstanding": str(receivable.outstanding),
                "recipients": len(_recipients(receivable)),
            },
            note=today.isoformat(),
        )
        transaction.on_commit(lambda: _deliver_later(reminder.pk))
    return True


def _deliver_later(reminder_id: int) -> None:
    from .tasks import deliver_receivable_reminder

    deliver_receivable_reminder.delay(reminder_id)


def _recipients(receivable: Receivable) -> list[tuple[str, str]]:
    """(address, language) of the enterprise's administrators, and its contact."""
    people = [
        (m.user.email, m.user.preferred_language)
        for m in Membership.objects.filter(
            enterprise_id=receivable.enterprise_id, role=Membership.Role.ENTERPRISE_ADMIN
        ).select_related("user")
        if m.user.is_active
    ]
    contact = receivable.enterprise.contact_email
    if contact and contact not in {address for address, _language in people}:
        people.append((contact, settings.LANGUAGE_CODE))
    return people


def receivable_reminder_deliver(*, reminder_id: int) -> int:
    """E-mail a recorded reminder to each recipient in their language; returns
    how many were sent. Called once, after the reminder's commit."""
    reminder = (
        ReceivableReminder.objects.select_related("receivable__program", "receivable__enterprise")
        .filter(pk=reminder_id)
        .first()
    )
    if reminder is None:
        return 0
    receivable = reminder.receivable
    recipients = _recipients(receivable)
    for address, language in recipients:
        with translation.override(language):
            subject, body = _message(receivable, reminder.kind)
        send_mail(subject, body, None, [address])
    return len(recipients)


def _message(receivable: Receivable, kind: str) -> tuple[str, str]:
    """The subject and body of a reminder in the active language."""
    figures = {
        "amount": format_amount(receivable.outstanding, receivable.unit),
        "date": receivable.due_on.isoformat() if receivable.due_on else "",
        "program": receivable.program.display_name,
        "number": receivable.pk,
    }
    if kind == Reminder.BEFORE_DUE:
        subject = _("Repayment of %(amount)s due on %(date)s") % figures
    elif kind == Reminder.OVERDUE:
        subject = _("Repayment of %(amount)s overdue since %(date)s") % figures
    else:
        subject = _("Repayment of %(amount)s 30 days overdue (due %(date)s)") % figures
    lines = [
        receivable.enterprise.name,
        "",
        _(
            "Your enterprise owes %(amount)s back to the program %(program)s "
            "(receivable no. %(number)s), due on %(date)s (China Standard Time)."
        )
        % figures,
        _("Reason: %(reason)s") % {"reason": receivable.reason},
        _("Please pay the program's district, quoting the receivable number."),
    ]
    return subject, "\n".join(lines) + "\n"
