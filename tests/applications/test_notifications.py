"""E-mail notices: after commit, through the Celery task, in the recipient's language."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from applications.models import Application
from applications.services import application_reject, application_submit
from audit.services import Actor
from tests.applications.factories import application
from tests.vouchers.factories import member

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
    from applications.models import ApplicationEvent
    from applications.tasks import send_application_notice

    app = application(enterprise, program)
    with django_capture_on_commit_callbacks(execute=True):
        application_submit(actor=Actor.for_user(applicant), application=app)
    event = ApplicationEvent.objects.get(application=app, action="submitted")
    assert event.notified_at is not None
    assert send_application_notice(event.pk) == 0
    assert len(mail.outbox) == 1


def test_an_approval_is_followed_by_the_voucher_with_its_code_and_certificate_link(
    program: Any,
    enterprise: Any,
    reviewer: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from decimal import Decimal

    from django.urls import reverse

    from applications.services import application_approve
    from vouchers.models import Voucher

    settings.SITE_URL = "https://vouchers.example.cn"
    member(enterprise, email="zh@example.com", preferred_language="zh-hans")
    member(enterprise, email="en@example.com", preferred_language="en")
    app = application(
        enterprise, program, status=Application.Status.UNDER_REVIEW, amount=Decimal("1000")
    )
    with django_capture_on_commit_callbacks(execute=True):
        application_approve(actor=Actor.for_user(reviewer), application=app)
    voucher = Voucher.objects.get(application=app)
    approvals = [m for m in mail.outbox if f"#{app.pk}" in m.subject]
    issued = {m.to[0]: m for m in mail.outbox if voucher.code in m.subject}
    assert {m.to[0] for m in approvals} == {"zh@example.com", "en@example.com"}
    # What the approval e-mail announces is true: the voucher's own e-mail comes too.
    assert "a separate e-mail" in next(m for m in approvals if m.to == ["en@example.com"]).body
    assert set(issued) == {"zh@example.com", "en@example.com"}
    certificate = "https://vouchers.example.cn" + reverse("voucher_certificate", args=[voucher.pk])
    english = issued["en@example.com"]
    assert "is issued" in english.subject
    assert voucher.code in english.body
    assert "1,000.00" in english.body
    assert f"{certificate}?lang=en" in english.body
    assert program.name_en in english.body
    chinese = issued["zh@example.com"]
    assert f"{certificate}?lang=zh-hans" in chinese.body
    assert program.name in chinese.body
    assert program.name_en not in chinese.body


def test_a_voucher_issued_without_an_application_is_announced_once(
    program: Any, enterprise: Any, applicant: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from decimal import Decimal

    from audit.models import AuditEvent
    from vouchers.models import VoucherReminder
    from vouchers.periodic import voucher_issued_notice_send
    from vouchers.services import voucher_issue

    with django_capture_on_commit_callbacks(execute=True):
        voucher = voucher_issue(
            actor=Actor.system("bulk"),
            program=program,
            enterprise=enterprise,
            amount=Decimal("500"),
            from_reservation=False,
        )
    assert [m.to for m in mail.outbox if voucher.code in m.subject] == [[applicant.email]]
    # The task may run twice (a worker killed before it acknowledged): one e-mail.
    voucher_issued_notice_send(voucher_id=voucher.pk)
    assert len([m for m in mail.outbox if voucher.code in m.subject]) == 1
    notice = VoucherReminder.objects.get(voucher=voucher, kind=VoucherReminder.Kind.ISSUED)
    assert notice.sent_at is not None
    assert AuditEvent.objects.filter(
        event_type="voucher.reminded", object_id=str(voucher.pk)
    ).exists()


def test_the_voucher_notice_waits_for_the_commit(
    program: Any, enterprise: Any, applicant: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from decimal import Decimal

    from vouchers.models import VoucherReminder
    from vouchers.services import voucher_issue

    with django_capture_on_commit_callbacks(execute=False):
        voucher_issue(
            actor=Actor.system("bulk"),
            program=program,
            enterprise=enterprise,
            amount=Decimal("500"),
            from_reservation=False,
        )
    assert mail.outbox == []
    assert not VoucherReminder.objects.exists()
