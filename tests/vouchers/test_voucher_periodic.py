"""Periodic tasks: each a service, idempotent, runnable as a command."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from accounts.models import Membership, User
from audit.models import AuditEvent
from programs.models import Program
from tests.accounts.factories import ComputePlatformFactory, EnterpriseFactory
from tests.programs.factories import ProgramFactory, add_steps, bind
from tests.vouchers.factories import frozen, issue, platform_actor, shanghai
from vouchers import tasks
from vouchers.models import Voucher, VoucherReminder
from vouchers.periodic import programs_step_phase_down, voucher_reminders_send
from vouchers.services import voucher_redeem

pytestmark = pytest.mark.django_db


def test_phase_down_steps_are_recorded_once_on_their_day_and_the_program_closes_at_exit() -> None:
    program = ProgramFactory()
    add_steps(program, (datetime.date(2027, 1, 1), "0.20"), (datetime.date(2028, 1, 1), "0"))
    with frozen(shanghai(2026, 12, 31, 23, 59)):
        assert programs_step_phase_down().stepped == []
    with frozen(shanghai(2027, 1, 1, 0, 5)):
        assert programs_step_phase_down().stepped == [f"{program.pk}:2027-01-01"]
        assert programs_step_phase_down().stepped == []  # idempotent
    program.refresh_from_db()
    assert program.status == Program.Status.OPEN
    with frozen(shanghai(2028, 1, 1, 0, 5)):
        report = programs_step_phase_down()
        assert report.closed == [str(program.pk)]
        assert programs_step_phase_down().closed == []
    program.refresh_from_db()
    assert program.status == Program.Status.CLOSED
    assert AuditEvent.objects.filter(event_type="program.closed_at_exit").count() == 1
    assert AuditEvent.objects.filter(event_type="program.rate_stepped").count() == 2


def test_reminders_go_30_and_7_days_before_expiry_once_each_in_the_readers_language(
    django_capture_on_commit_callbacks,
) -> None:
    program = ProgramFactory(voucher_validity_days=60)
    enterprise = EnterpriseFactory(contact_email="")
    user = User.objects.create_user("boss@example.com", None, preferred_language="en")
    Membership.objects.create(
        user=user, enterprise=enterprise, role=Membership.Role.ENTERPRISE_ADMIN
    )
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(program, enterprise)  # expires 2026-07-31 00:00
    with frozen(shanghai(2026, 6, 15)):
        assert voucher_reminders_send() == 0
    with frozen(shanghai(2026, 7, 2)), django_capture_on_commit_callbacks(execute=True):
        assert voucher_reminders_send() == 1
        assert voucher_reminders_send() == 0
    with frozen(shanghai(2026, 7, 25)), django_capture_on_commit_callbacks(execute=True):
        assert voucher_reminders_send() == 1
    kinds = set(VoucherReminder.objects.values_list("kind", flat=True))
    assert kinds == {"expiry_30", "expiry_7"}
    assert len(mail.outbox) == 2
    assert mail.outbox[0].to == ["boss@example.com"]
    assert voucher.code in mail.outbox[0].subject
    assert "valid until 2026-07-30" in mail.outbox[0].body


def test_a_low_balance_reminder_goes_once_under_10_percent(
    django_capture_on_commit_callbacks,
) -> None:
    platform = ComputePlatformFactory()
    program = ProgramFactory(base_rate=Decimal("1"))
    bind(program, platform)
    voucher = issue(program, EnterpriseFactory(contact_email="ops@example.com"), amount="100")
    from django.utils import timezone

    voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference="r",
        occurred_at=timezone.now(),
        billed_amount=Decimal("91"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert voucher_reminders_send() == 1
        assert voucher_reminders_send() == 0
    assert VoucherReminder.objects.get().kind == "low_balance"
    assert mail.outbox[0].to == ["ops@example.com"]


def test_every_task_runs_eagerly_and_as_a_management_command() -> None:
    with frozen(shanghai(2026, 6, 1, 9)):
        issue(ProgramFactory(), valid_from=shanghai(2026, 6, 2))
    with frozen(shanghai(2026, 6, 2, 0, 1)):
        assert tasks.activate_due_vouchers.delay().get() == 1
        for command in (
            "activate_vouchers",
            "expire_vouchers",
            "release_expired_holds",
            "step_programs",
            "send_voucher_reminders",
        ):
            out = StringIO()
            call_command(command, stdout=out)
            assert out.getvalue().strip()
    assert Voucher.objects.get().status == Voucher.Status.ACTIVE


def test_the_beat_schedule_is_registered_idempotently() -> None:
    call_command("setup_periodic_tasks", stdout=StringIO())
    call_command("setup_periodic_tasks", stdout=StringIO())
    registered = set(PeriodicTask.objects.values_list("task", flat=True))
    assert registered >= {
        "vouchers.activate_due",
        "vouchers.expire_due",
        "vouchers.release_expired_holds",
        "vouchers.step_programs",
        "vouchers.send_reminders",
    }
    assert PeriodicTask.objects.filter(task__startswith="vouchers.").count() == 5
