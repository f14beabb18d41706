"""Twenty approvals race for the last of a budget: the program never commits
more than it has (threads against PostgreSQL, then the figures checked)."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from applications.models import Application
from applications.services import application_approve
from audit.models import AuditEvent
from audit.services import Actor
from common.errors import BusinessError
from programs.models import Program
from tests.accounts.factories import EnterpriseFactory
from tests.applications.factories import application
from tests.programs.factories import open_program
from tests.vouchers.factories import official
from vouchers.models import Voucher

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_approvals_never_exceed_the_budget(jianghan: Any) -> None:
    # 1,000,000 budget, 880,000 already reserved: 120,000 left, which covers
    # exactly three of the twenty 40,000 applications racing for it.
    program = open_program(
        district=jianghan, total_budget=Decimal("1000000"), per_enterprise_cap=Decimal("50000")
    )
    Program.objects.filter(pk=program.pk).update(reserved_amount=Decimal("880000"))
    reviewer = official(jianghan)
    applications = [
        application(
            EnterpriseFactory(division="420103"),
            program,
            status=Application.Status.UNDER_REVIEW,
            amount=Decimal("40000"),
            with_document=False,
        )
        for _ in range(20)
    ]
    barrier = threading.Barrier(len(applications))
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(app: Application) -> None:
        try:
            barrier.wait()
            application_approve(actor=Actor.for_user(reviewer), application=app)
            result = "approved"
        except BusinessError:
            result = "refused"
        except Exception as exc:  # a crash must fail the test, not hide
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=approve, args=(app,)) for app in applications]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["approved"] * 3 + ["refused"] * 17
    program.refresh_from_db()
    approved = Application.objects.filter(program=program, status=Application.Status.APPROVED)
    assert approved.count() == 3
    # Each approval reserved its amount and issued the voucher from it.
    assert program.committed_amount == Decimal("1000000")
    assert program.issued_amount == Decimal("120000")
    assert program.remaining_amount == 0
    assert sum(v.face_value for v in Voucher.objects.filter(program=program)) == Decimal("120000")
    # The counter agrees with the applications and with the audit trail.
    assert approved.aggregate(total=Sum("approved_amount"))["total"] == Decimal("120000")
    reservations = AuditEvent.objects.filter(event_type="program.budget_reserved")
    assert reservations.count() == 3
    assert sum(Decimal(e.after["amount"]) for e in reservations) == Decimal("120000")
    assert (
        Application.objects.filter(program=program, status=Application.Status.UNDER_REVIEW).count()
        == 17
    )


def test_the_database_refuses_a_commitment_beyond_the_budget(jianghan: Any) -> None:
    from django.db import IntegrityError, transaction

    program = open_program(district=jianghan, total_budget=Decimal("100"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Program.objects.filter(pk=program.pk).update(reserved_amount=Decimal("101"))
