"""The audit log's periodic tasks and their schedule."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from accounts.models import Membership
from audit import events
from audit.models import AuditCheckpoint, AuditEvent, AuditSeal
from audit.tasks import audit_checkpoint, audit_seal, audit_verify_nightly
from tests.accounts.factories import DistrictFactory, UserFactory
from tests.audit.factories import official
from tests.audit.helpers import record, tamper

pytestmark = pytest.mark.django_db


def test_the_seal_and_checkpoint_tasks_seal_and_sign() -> None:
    record(3)
    assert audit_seal.delay().get() == 3
    record(1)
    audit_checkpoint.delay()
    assert AuditSeal.objects.count() == 4
    assert AuditCheckpoint.objects.get().tree_size == 4


def test_a_good_night_sends_no_mail() -> None:
    official(DistrictFactory(code="420103"), Membership.Role.AUDITOR)
    record(2)
    assert audit_verify_nightly()["ok"] is True
    assert mail.outbox == []


@pytest.mark.postgres
def test_a_failed_verification_mails_every_auditor_and_is_recorded(settings: Any) -> None:
    district = DistrictFactory(code="420103")
    auditor = official(district, Membership.Role.AUDITOR, email="auditor@example.test")
    zh_auditor = official(
        DistrictFactory(code="520100"),
        Membership.Role.AUDITOR,
        email="shenji@example.test",
        preferred_language="zh-hans",
    )
    official(district, Membership.Role.REVIEWER, email="reviewer@example.test")
    UserFactory(email="nobody@example.test", preferred_language="en")
    events_ = record(3)
    audit_checkpoint()
    tamper("UPDATE audit_auditevent SET note = 'x' WHERE id = %s", [events_[1].pk])
    outcome = audit_verify_nightly()
    assert outcome["ok"] is False
    assert sorted(m.to[0] for m in mail.outbox) == [auditor.email, zh_auditor.email]
    english = next(m for m in mail.outbox if m.to == [auditor.email])
    assert f"event #{events_[1].pk}" in english.body
    failure = AuditEvent.objects.get(event_type=events.AUDIT_VERIFICATION_FAILED)
    assert failure.object_id == str(events_[1].pk)


def test_setup_periodic_tasks_is_idempotent() -> None:
    call_command("setup_periodic_tasks", stdout=None)
    call_command("setup_periodic_tasks", stdout=None)
    # One command installs every app's schedule; the audit log's part is these
    # three, and the daily anomaly detection.
    tasks = {t.task: t for t in PeriodicTask.objects.filter(task__startswith="audit.")}
    assert set(tasks) == {
        "audit.seal",
        "audit.checkpoint",
        "audit.verify_nightly",
        "audit.detect_anomalies",
    }
    assert tasks["audit.seal"].interval.every == 10
    assert tasks["audit.verify_nightly"].crontab.hour == "2"
    assert tasks["audit.detect_anomalies"].crontab.hour == "4"
    assert PeriodicTask.objects.filter(task__startswith="audit.").count() == 4
