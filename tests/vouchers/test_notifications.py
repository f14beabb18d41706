"""E-mail notices: after commit, through the Celery task, in the recipient's language."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from audit.services import Actor
from vouchers.models import Application
from vouchers.services import application_reject, application_submit

from .factories import application, member

pytestmark = pytest.mark.django_db


def test_notices_wait_for_the_commit(
    program: Any, enterprise: Any, applicant: Any, django_capture_on_commit_callbacks: Any
) -> None:
    app = application(enterprise, program)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        application_submit(actor=Actor.for_user(applicant), application=app)
    assert len(mail.outbox) == 0
    # The audit seal also waits for the commit; run every callback.
    assert callbacks
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1


def test_each_member_reads_the_notice_in_their_language(
    program: Any, enterprise: Any, reviewer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    member(enterprise, email="zh@example.com", preferred_language="zh-hans")
    member(enterprise, email="en@example.com", preferred_language="en")
    app = application(enterprise, program, status=Application.Status.UNDER_REVIEW)
    with django_capture_on_commit_callbacks(execute=True):
        application_reject(
            actor=Actor.for_user(reviewer), application=app, note="不符合条件 / not eligible"
        )
    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert set(by_recipient) == {"zh@example.com", "en@example.com"}
    # The program's name follows the reader's language (Chinese or English).
    assert program.name in by_recipient["zh@example.com"].body
    assert program.name_en in by_recipient["en@example.com"].body
    assert program.name_en not in by_recipient["zh@example.com"].body
    assert "不符合条件 / not eligible" in by_recipient["en@example.com"].body
    assert "was not approved" in by_recipient["en@example.com"].subject


def test_a_notice_task_that_runs_twice_sends_once(
    program: Any, enterprise: Any, applicant: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from vouchers.models import ApplicationEvent
    from vouchers.tasks import send_application_notice

    app = application(enterprise, program)
    with django_capture_on_commit_callbacks(execute=True):
        application_submit(actor=Actor.for_user(applicant), application=app)
    event = ApplicationEvent.objects.get(application=app, action="submitted")
    assert event.notified_at is not None
    assert send_application_notice(event.pk) == 0
    assert len(mail.outbox) == 1
