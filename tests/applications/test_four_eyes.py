"""Four-eyes rule: approvals above the program's threshold need a second official."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from applications.models import Application
from applications.services import application_approve, application_return
from audit.services import Actor
from common.errors import BusinessError
from programs.models import Program
from tests.applications.factories import application
from vouchers.models import Voucher

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


# --- The threshold that binds an application cannot be walked around ------


def _review_url(app: Application) -> str:
    from django.urls import reverse

    return reverse("admin:applications_application_change", args=[app.pk])


def _reviewer_client(user: Any) -> Any:
    from tests.vouchers.factories import client_for, with_mfa

    return client_for(with_mfa(user))


def test_raising_the_threshold_after_review_started_does_not_let_one_official_approve_alone(
    program: Program, enterprise: Any, reviewer: Any
) -> None:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("100000"))
    app = application(enterprise, program, status=S.SUBMITTED, amount=Decimal("250000"))
    client = _reviewer_client(reviewer)
    client.post(_review_url(app), {"action": "start_review"})
    app.refresh_from_db()
    assert app.status == S.UNDER_REVIEW
    # The official raises the program's threshold above the amount ...
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("300000"))
    page = client.get(_review_url(app))
    assert page.context["actions"] == ["approve_first", "reject", "return_for_changes"]
    assert "Above ¥100,000.00" in page.content.decode()  # the frozen threshold
    # ... and approves: it is only the first of two approvals.
    client.post(_review_url(app), {"action": "approve_first", "amount": "", "note": ""})
    app.refresh_from_db()
    assert app.status == S.AWAITING_SECOND_APPROVAL
    assert not Voucher.objects.exists()
    with pytest.raises(PermissionDenied):
        application_approve(actor=Actor.for_user(reviewer), application=app)
    assert not Voucher.objects.exists()
    assert app.four_eyes_threshold == Decimal("100000")  # frozen when review started


def test_the_threshold_in_force_when_review_started_binds_even_when_lowered_later(
    program: Program, enterprise: Any, reviewer: Any
) -> None:
    from applications.services import application_start_review

    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("300000"))
    app = application(enterprise, program, status=S.SUBMITTED, amount=Decimal("250000"))
    app = application_start_review(actor=Actor.for_user(reviewer), application=app)
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("100000"))
    app = application_approve(actor=Actor.for_user(reviewer), application=app)
    assert app.status == S.APPROVED


def test_returning_and_resubmitting_after_raising_the_threshold_lifts_nothing(
    program: Program, enterprise: Any, applicant: Any, reviewer: Any
) -> None:
    from applications.services import application_start_review, application_submit

    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("100000"))
    app = application(enterprise, program, status=S.SUBMITTED, amount=Decimal("250000"))
    app = application_start_review(actor=Actor.for_user(reviewer), application=app)
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("300000"))
    application_return(actor=Actor.for_user(reviewer), application=app, note="Send it again.")
    application_submit(actor=Actor.for_user(applicant), application=app)
    app = application_start_review(actor=Actor.for_user(reviewer), application=app)
    app = application_approve(actor=Actor.for_user(reviewer), application=app)
    assert app.status == S.AWAITING_SECOND_APPROVAL
    assert app.four_eyes_threshold == Decimal("100000")  # the stricter one


# --- The amount approved ----------------------------------------------------


def test_approving_more_than_was_requested_is_refused_in_the_admin(
    program: Program, enterprise: Any, reviewer: Any
) -> None:
    from django.core import mail

    app = application(enterprise, program, status=S.UNDER_REVIEW, amount=Decimal("150000"))
    client = _reviewer_client(reviewer)
    response = client.post(_review_url(app), {"action": "approve", "amount": "200000", "note": ""})
    assert response.status_code == 200
    body = response.content.decode()
    assert "The enterprise requested 150,000.00" in body
    assert "may not exceed what was requested" in body
    app.refresh_from_db()
    assert (app.status, app.approved_amount) == (S.UNDER_REVIEW, None)
    assert not Voucher.objects.exists()
    assert not mail.outbox
    # The requested amount (or less) goes through.
    client.post(_review_url(app), {"action": "approve", "amount": "150000", "note": ""})
    app.refresh_from_db()
    assert (app.status, app.approved_amount) == (S.APPROVED, Decimal("150000"))


@pytest.mark.parametrize("status", ["pending", "suspended"])
def test_an_application_of_an_enterprise_not_verified_is_not_approved(
    program: Program, enterprise: Any, reviewer: Any, status: str
) -> None:
    # The same rule as bulk issuance: public money goes only to an enterprise
    # the district has verified, whichever door the grant takes.
    from django.core import mail

    app = application(enterprise, program, status=S.UNDER_REVIEW, amount=Decimal("50000"))
    type(enterprise).objects.filter(pk=enterprise.pk).update(status=status)
    response = _reviewer_client(reviewer).post(
        _review_url(app), {"action": "approve", "amount": "50000", "note": ""}
    )
    assert response.status_code == 200
    assert "vouchers go only to verified enterprises" in response.content.decode()
    app.refresh_from_db()
    assert (app.status, app.approved_amount) == (S.UNDER_REVIEW, None)
    assert not Voucher.objects.exists()
    assert not mail.outbox


def test_approving_over_the_cap_says_why_not_that_the_application_is_not_under_review(
    program: Program, enterprise: Any, reviewer: Any
) -> None:
    from vouchers.services import voucher_issue

    # The cap is 300,000; the enterprise already holds 200,000 from this program.
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("50000"))
    voucher_issue(
        actor=Actor.system("tests"),
        program=program,
        enterprise=enterprise,
        amount=Decimal("200000"),
        from_reservation=False,
    )
    app = application(enterprise, program, status=S.UNDER_REVIEW, amount=Decimal("150000"))
    response = _reviewer_client(reviewer).post(
        _review_url(app), {"action": "approve_first", "amount": "150000", "note": ""}
    )
    body = response.content.decode()
    assert "only applications under review" not in body.lower()
    assert "Only an application under review can be approved" not in body
    assert "would pass the cap of 300,000.00" in body
    app.refresh_from_db()
    assert app.status == S.UNDER_REVIEW


def test_approving_above_the_request_and_the_cap_gives_the_real_reason(
    program: Program, enterprise: Any, reviewer: Any
) -> None:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("200000"))
    app = application(enterprise, program, status=S.UNDER_REVIEW, amount=Decimal("150000"))
    with pytest.raises(BusinessError) as refused:
        application_approve(
            actor=Actor.for_user(reviewer), application=app, amount=Decimal("350000")
        )
    assert "under review" not in str(refused.value.message)
    assert refused.value.field == "amount"


def test_what_the_enterprise_already_holds_counts_toward_the_threshold(
    program: Program, enterprise: Any, reviewer: Any
) -> None:
    from vouchers.services import voucher_issue

    # 200,000 by bulk issuance, then an application of 100,000: together above
    # the 250,000 threshold, so one official cannot grant it alone.
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("250000"))
    voucher_issue(
        actor=Actor.system("tests"),
        program=program,
        enterprise=enterprise,
        amount=Decimal("200000"),
        from_reservation=False,
    )
    app = application(enterprise, program, status=S.UNDER_REVIEW, amount=Decimal("100000"))
    app = application_approve(actor=Actor.for_user(reviewer), application=app)
    assert app.status == S.AWAITING_SECOND_APPROVAL
