"""The one beat schedule (config/beat.py): every row names a task Celery
knows, and setup_periodic_tasks writes it once and then leaves it alone."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from config.beat import PERIODIC_TASKS
from config.celery import app

pytestmark = pytest.mark.django_db


def test_settings_hand_the_declared_schedule_to_the_command() -> None:
    assert settings.PERIODIC_TASKS is PERIODIC_TASKS


def test_every_scheduled_task_is_a_registered_celery_task() -> None:
    app.loader.import_default_modules()
    missing = {row["task"] for row in PERIODIC_TASKS.values()} - set(app.tasks)
    assert missing == set()


def test_every_row_runs_on_either_an_interval_or_a_crontab() -> None:
    for name, row in PERIODIC_TASKS.items():
        assert ("interval" in row) != ("crontab" in row), name


def test_the_pruning_of_signature_nonces_is_scheduled() -> None:
    tasks = {row["task"] for row in PERIODIC_TASKS.values()}
    assert {"platforms.nonce_prune", "platforms.idempotency_prune"} <= tasks


def test_the_command_writes_every_row_once_and_then_changes_nothing() -> None:
    first = StringIO()
    call_command("setup_periodic_tasks", stdout=first)
    assert first.getvalue().count("created ") == len(PERIODIC_TASKS)
    rows = {t.name: t for t in PeriodicTask.objects.all()}
    assert set(rows) == set(PERIODIC_TASKS)
    for name, row in PERIODIC_TASKS.items():
        assert rows[name].task == row["task"]
        assert rows[name].enabled
    # Beat reloads its whole schedule whenever a row is saved: a second run
    # saves nothing.
    changed_at = PeriodicTasks.last_change()
    second = StringIO()
    call_command("setup_periodic_tasks", stdout=second)
    assert second.getvalue().count("checked ") == len(PERIODIC_TASKS)
    assert "created" not in second.getvalue()
    assert PeriodicTasks.last_change() == changed_at
    assert PeriodicTask.objects.count() == len(PERIODIC_TASKS)


def test_crontabs_are_in_the_celery_timezone_and_a_changed_row_is_put_back() -> None:
    call_command("setup_periodic_tasks", stdout=StringIO())
    assert {str(c.timezone) for c in CrontabSchedule.objects.all()} == {settings.CELERY_TIMEZONE}
    reminders = PeriodicTask.objects.get(name="Voucher reminders")
    reminders.enabled = False
    reminders.crontab = CrontabSchedule.objects.create(minute="1", hour="1")
    reminders.save()
    call_command("setup_periodic_tasks", stdout=StringIO())
    reminders.refresh_from_db()
    assert reminders.enabled
    assert (reminders.crontab.minute, reminders.crontab.hour) == ("0", "9")
