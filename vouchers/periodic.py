"""The periodic work on vouchers and programs, as services.

Celery beat runs them (``vouchers/tasks.py``), and each has a management
command. All are idempotent: each row is handled in its own transaction
under its own lock, and a second run finds nothing left to do.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import can_proceed

from accounts.models import Membership
from audit import events
from audit.models import AuditEvent
from audit.services import Actor, audit_record
from programs.models import Program
from programs.phasedown import exit_date, steps_of

from .models import Hold, Voucher, VoucherReminder
from .notifications import notify_reminder
from .services import hold_expire, voucher_activate, voucher_expire

LOW_BALANCE_SHARE = Decimal("0.10")


def vouchers_activate_due() -> int:
    """Activate every issued voucher whose valid-from has come."""
    now = timezone.now()
    due = Voucher.objects.filter(
        status=Voucher.Status.ISSUED, valid_from__lte=now, expires_at__gt=now
    ).values_list("pk", flat=True)
    return sum(voucher_activate(voucher_id=pk) for pk in list(due))


def vouchers_expire_due() -> int:
    """Expire every voucher at or past its expiry; remainders return to the budgets."""
    due = Voucher.objects.filter(
        status__in=Voucher.OPEN, expires_at__lte=timezone.now()
    ).values_list("pk", flat=True)
    return sum(voucher_expire(voucher_id=pk) for pk in list(due))


def holds_release_expired() -> int:
    """Release every open hold past its expires_at."""
    due = Hold.objects.filter(status=Hold.Status.OPEN, expires_at__lte=timezone.now()).values_list(
        "pk", flat=True
    )
    return sum(hold_expire(hold_id=pk) for pk in list(due))


@dataclass
class StepReport:
    stepped: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)


def programs_step_phase_down() -> StepReport:
    """Record each phase-down step on the day it takes effect, and close
    programs on their exit date. Rates themselves are always read with
    ``rate_in_force``; this makes each step a visible, audited event."""
    today = timezone.localdate()
    actor = Actor.system("phase-down")
    report = StepReport()
    programs = Program.objects.exclude(status=Program.Status.DRAFT).prefetch_related("phase_steps")
    for program in programs:
        steps = steps_of(program)
        for step in steps:
            if step.starts_on > today:
                break
            with transaction.atomic():
                locked = Program.objects.select_for_update().get(pk=program.pk)
                already = AuditEvent.objects.filter(
                    event_type=events.PROGRAM_RATE_STEPPED,
                    object_type="vouchers.program",
                    object_id=str(program.pk),
                    note=step.starts_on.isoformat(),
                ).exists()
                if already:
                    continue
                audit_record(
                    actor=actor,
                    event_type=events.PROGRAM_RATE_STEPPED,
                    obj=locked,
                    after={"starts_on": step.starts_on.isoformat(), "rate": str(step.rate)},
                    district_id=locked.district_id,
                    note=step.starts_on.isoformat(),
                )
                report.stepped.append(f"{locked.pk}:{step.starts_on.isoformat()}")
        exit_on = exit_date(steps)
        if exit_on is not None and exit_on <= today and program.status != Program.Status.CLOSED:
            with transaction.atomic():
                locked = Program.objects.select_for_update().get(pk=program.pk)
                if not can_proceed(locked.close_at_exit):  # closed meanwhile
                    continue
                before = locked.status
                locked.close_at_exit()
                locked.save(update_fields=["status"])
                audit_record(
                    actor=actor,
                    event_type=events.PROGRAM_CLOSED_AT_EXIT,
                    obj=locked,
                    before={"status": before},
                    after={"status": Program.Status.CLOSED, "exit_date": exit_on.isoformat()},
                    district_id=locked.district_id,
                )
                report.closed.append(str(locked.pk))
    return report


def _recipients(voucher: Voucher) -> list[tuple[str, str]]:
    """(address, language) of everyone to tell about this voucher."""
    people = [
        (m.user.email, m.user.preferred_language)
        for m in Membership.objects.filter(
            enterprise_id=voucher.enterprise_id, role__in=Membership.ENTERPRISE_ROLES
        ).select_related("user")
        if m.user.is_active
    ]
    contact = voucher.enterprise.contact_email
    if contact and contact not in {address for address, _ in people}:
        people.append((contact, settings.LANGUAGE_CODE))
    return people


@transaction.atomic
def reminder_deliver(*, reminder_id: int) -> None:
    """Notify the voucher's enterprise of one recorded reminder: a
    notification and an e-mail each, in the reader's language.

    Idempotent: the reminder is locked and marked as sent in the same
    transaction, so once that has committed a task that runs again (its
    worker was killed before it acknowledged the message) sends nothing. A
    worker killed while sending, before the commit, leaves the reminder
    unsent, and the next attempt sends all of it.
    """
    reminder = (
        VoucherReminder.objects.select_for_update(of=("self",))
        .select_related("voucher__program__district", "voucher__enterprise")
        .filter(pk=reminder_id, sent_at__isnull=True)
        .first()
    )
    if reminder is None:
        return
    notify_reminder(reminder=reminder)
    reminder.sent_at = timezone.now()
    reminder.save(update_fields=["sent_at"])


def _deliver_later(reminder_id: int) -> None:
    from .tasks import deliver_voucher_reminder

    deliver_voucher_reminder.delay(reminder_id)


def voucher_issued_notice_send(*, voucher_id: int) -> None:
    """Tell the enterprise its voucher is issued: its code, face value,
    validity and the link to its certificate; once per voucher.

    Called after the issuance has committed (``notify_voucher_issued``).
    Idempotent: the notice is a unique reminder row, recorded first and then
    delivered under its own lock, so a task that runs twice sends it once.
    """
    with transaction.atomic():
        voucher = (
            Voucher.objects.select_for_update(of=("self",))
            .select_related("program", "enterprise")
            .filter(pk=voucher_id)
            .first()
        )
        if voucher is None:
            return
        reminder = VoucherReminder.objects.filter(
            voucher=voucher, kind=VoucherReminder.Kind.ISSUED
        ).first()
        if reminder is None:
            reminder = VoucherReminder.objects.create(
                voucher=voucher, kind=VoucherReminder.Kind.ISSUED, recipients=_recipients(voucher)
            )
            audit_record(
                actor=Actor.system("voucher-notices"),
                event_type=events.VOUCHER_REMINDED,
                obj=voucher,
                after={"kind": reminder.kind, "recipients": len(reminder.recipients)},
                district_id=voucher.program.district_id,
                enterprise_id=voucher.enterprise_id,
            )
    reminder_deliver(reminder_id=reminder.pk)


def _remind(voucher_id: int, kind: str) -> bool:
    with transaction.atomic():
        voucher = (
            Voucher.objects.select_for_update(of=("self",))
            .select_related("program", "enterprise")
            .get(pk=voucher_id)
        )
        if VoucherReminder.objects.filter(voucher=voucher, kind=kind).exists():
            return False
        reminder = VoucherReminder.objects.create(
            voucher=voucher, kind=kind, recipients=_recipients(voucher)
        )
        audit_record(
            actor=Actor.system("voucher-reminders"),
            event_type=events.VOUCHER_REMINDED,
            obj=voucher,
            after={"kind": kind, "recipients": len(reminder.recipients)},
            district_id=voucher.program.district_id,
            enterprise_id=voucher.enterprise_id,
        )
        transaction.on_commit(lambda: _deliver_later(reminder.pk))
    return True


def voucher_reminders_send() -> int:
    """Remind enterprises 30 and 7 days before expiry and when a voucher's
    balance falls under 10 % of its face value; each reminder once."""
    now = timezone.now()
    usable = Voucher.objects.filter(status__in=[Voucher.Status.ACTIVE, Voucher.Status.ISSUED])
    sent = 0
    for kind, days in ((VoucherReminder.Kind.EXPIRY_7, 7), (VoucherReminder.Kind.EXPIRY_30, 30)):
        window = usable.filter(
            expires_at__gt=now, expires_at__lte=now + datetime.timedelta(days=days)
        ).exclude(reminders__kind=kind)
        if kind == VoucherReminder.Kind.EXPIRY_30:
            # Who already got the 7-day reminder needs no 30-day one any more.
            window = window.exclude(reminders__kind=VoucherReminder.Kind.EXPIRY_7)
        for pk in list(window.values_list("pk", flat=True)):
            sent += _remind(pk, kind)
    low = (
        usable.filter(status=Voucher.Status.ACTIVE)
        .filter(Q(balance__lt=F("held") + F("face_value") * LOW_BALANCE_SHARE))
        .exclude(reminders__kind=VoucherReminder.Kind.LOW_BALANCE)
    )
    for pk in list(low.values_list("pk", flat=True)):
        sent += _remind(pk, VoucherReminder.Kind.LOW_BALANCE)
    return sent
