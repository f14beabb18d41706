"""Four-eyes rule: approvals above the program's threshold need a second official."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from audit.services import Actor
from vouchers.errors import BusinessError
from vouchers.models import Application, Program, Voucher
from vouchers.services import application_approve, application_return

from .factories import application

pytestmark = pytest.mark.django_db

S = Application.Status


@pytest.fixture
def big(program: Program, enterprise: Any) -> Application:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("100000"))
    program.refresh_from_db()
    return application(enterprise, program, status=S.UNDER_REVIEW, amount=Decimal("250000"))


def test_above_the_threshold_a_second_different_official_must_approve(
    big: Application, reviewer: Any, second_reviewer: Any
) -> None:
    first = application_approve(actor=Actor.for_user(reviewer), application=big)
    assert first.status == S.AWAITING_SECOND_APPROVAL
    assert first.first_approved_by == reviewer
    big.program.refresh_from_db()
    assert big.program.reserved_amount == 0  # nothing reserved on the first approval
    names = [t.name for t in first.get_available_user_status_transitions(reviewer)]
    assert "approve_second" not in names
    with pytest.raises(PermissionDenied):
        application_approve(actor=Actor.for_user(reviewer), application=first)
    final = application_approve(actor=Actor.for_user(second_reviewer), application=first)
    assert final.status == S.APPROVED
    assert final.approved_amount == Decimal("250000")
    final.program.refresh_from_db()
    # The second approval reserved the amount and issued the voucher from it.
    assert final.program.issued_amount == Decimal("250000")
    assert Voucher.objects.get(application=final).face_value == Decimal("250000")


def test_the_second_official_confirms_the_same_amount(
    big: Application, reviewer: Any, second_reviewer: Any
) -> None:
    application_approve(actor=Actor.for_user(reviewer), application=big, amount=Decimal("200000"))
    with pytest.raises(BusinessError) as refused:
        application_approve(
            actor=Actor.for_user(second_reviewer), application=big, amount=Decimal("250000")
        )
    assert refused.value.field == "amount"
    final = application_approve(actor=Actor.for_user(second_reviewer), application=big)
    assert final.approved_amount == Decimal("200000")


def test_at_or_below_the_threshold_one_approval_is_enough(
    program: Program, enterprise: Any, reviewer: Any
) -> None:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("100000"))
    app = application(enterprise, program, status=S.UNDER_REVIEW, amount=Decimal("250000"))
    app = application_approve(
        actor=Actor.for_user(reviewer), application=app, amount=Decimal("100000")
    )
    assert app.status == S.APPROVED


def test_the_second_reviewer_may_return_it_instead(
    big: Application, reviewer: Any, second_reviewer: Any
) -> None:
    application_approve(actor=Actor.for_user(reviewer), application=big)
    returned = application_return(
        actor=Actor.for_user(second_reviewer), application=big, note="Amount too high for the plan."
    )
    assert returned.status == S.RETURNED
    assert returned.first_approved_by is None
    assert returned.approved_amount is None
