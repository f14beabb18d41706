"""The application journey: every allowed and refused transition, by role."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from accounts.models import Membership
from applications.models import Application, ApplicationEvent
from applications.services import (
    application_approve,
    application_document_add,
    application_reject,
    application_return,
    application_save_draft,
    application_start_review,
    application_submit,
    application_withdraw,
)
from audit.models import AuditEvent
from audit.services import Actor
from common.errors import BusinessError
from tests.accounts.factories import EnterpriseFactory
from tests.applications.factories import application, pdf_upload
from tests.eligibility.factories import rule_set
from tests.vouchers.factories import member, official
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db

S = Application.Status


def _draft(applicant: Any, enterprise: Any, program: Any, amount: str = "100000") -> Application:
    actor = Actor.for_user(applicant)
    app = application_save_draft(
        actor=actor,
        enterprise=enterprise,
        program=program,
        requested_amount=Decimal(amount),
        purpose="Fine-tune a dialect model.",
    )
    application_document_add(actor=actor, application=app, upload=pdf_upload())
    return app


def test_the_whole_journey_returned_resubmitted_approved(
    program: Any,
    enterprise: Any,
    applicant: Any,
    reviewer: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _journey(program, enterprise, applicant, reviewer)
    # Submit, return, resubmit, approval, and the issued voucher's own notice
    # (its code and certificate link): five e-mails to the one member.
    assert len(mail.outbox) == 5
    assert {tuple(message.to) for message in mail.outbox} == {(applicant.email,)}


def _journey(program: Any, enterprise: Any, applicant: Any, reviewer: Any) -> None:
    me, official_ = Actor.for_user(applicant), Actor.for_user(reviewer)
    app = _draft(applicant, enterprise, program)
    assert app.status == S.DRAFT
    app = application_submit(actor=me, application=app)
    assert app.status == S.SUBMITTED
    assert app.eligibility_decision["eligible"] is True
    app = application_start_review(actor=official_, application=app)
    assert app.status == S.UNDER_REVIEW
    app = application_return(actor=official_, application=app, note="Add the purchase contract.")
    assert app.status == S.RETURNED
    app = application_save_draft(
        actor=me,
        enterprise=enterprise,
        program=program,
        requested_amount=Decimal("90000"),
        purpose="Fine-tune a dialect model; contract attached.",
        application=app,
    )
    app = application_submit(actor=me, application=app)
    assert app.status == S.SUBMITTED
    app = application_start_review(actor=official_, application=app)
    app = application_approve(actor=official_, application=app)
    assert app.status == S.APPROVED
    assert app.approved_amount == Decimal("90000")
    program.refresh_from_db()
    # Approval reserved the amount and issued the voucher from the reservation.
    assert program.reserved_amount == 0
    assert program.issued_amount == Decimal("90000")
    assert Voucher.objects.get(application=app).face_value == Decimal("90000")
    actions = list(app.events.values_list("action", flat=True))
    assert actions == [
        "created",
        "submitted",
        "review_started",
        "returned",
        "resubmitted",
        "review_started",
        "approved",
    ]
    assert set(
        AuditEvent.objects.filter(
            object_type="vouchers.application", object_id=str(app.pk)
        ).values_list("event_type", flat=True)
    ) >= {
        "application.submitted",
        "application.returned",
        "application.resubmitted",
        "application.approved",
    }
    assert AuditEvent.objects.filter(event_type="program.budget_reserved").count() == 1


def test_a_reviewer_may_reject_with_a_note_only(
    program: Any, enterprise: Any, reviewer: Any
) -> None:
    app = application(enterprise, program, status=S.UNDER_REVIEW)
    actor = Actor.for_user(reviewer)
    with pytest.raises(BusinessError) as refused:
        application_reject(actor=actor, application=app, note="  ")
    assert refused.value.field == "note"
    with pytest.raises(BusinessError):
        application_return(actor=actor, application=app, note="")
    app = application_reject(actor=actor, application=app, note="Not a compute use.")
    assert app.status == S.REJECTED
    assert (
        ApplicationEvent.objects.get(application=app, action="rejected").note
        == "Not a compute use."
    )


@pytest.mark.parametrize("status", [S.DRAFT, S.SUBMITTED, S.RETURNED])
def test_the_enterprise_may_withdraw_before_review(
    program: Any, enterprise: Any, applicant: Any, status: str
) -> None:
    app = application(enterprise, program, status=status)
    app = application_withdraw(actor=Actor.for_user(applicant), application=app)
    assert app.status == S.WITHDRAWN


@pytest.mark.parametrize(
    "status", [S.UNDER_REVIEW, S.AWAITING_SECOND_APPROVAL, S.APPROVED, S.REJECTED, S.WITHDRAWN]
)
def test_the_enterprise_may_not_withdraw_once_reviewed(
    program: Any, enterprise: Any, applicant: Any, status: str
) -> None:
    app = application(enterprise, program, status=status)
    with pytest.raises(BusinessError):
        application_withdraw(actor=Actor.for_user(applicant), application=app)


def test_enterprise_members_may_not_review(program: Any, enterprise: Any, applicant: Any) -> None:
    app = application(enterprise, program, status=S.SUBMITTED)
    with pytest.raises(PermissionDenied):
        application_start_review(actor=Actor.for_user(applicant), application=app)
    Application.objects.filter(pk=app.pk).update(status=S.UNDER_REVIEW)
    for service in (application_approve,):
        with pytest.raises(PermissionDenied):
            service(actor=Actor.for_user(applicant), application=app)
    with pytest.raises(PermissionDenied):
        application_reject(actor=Actor.for_user(applicant), application=app, note="x")


@pytest.mark.parametrize("role", [Membership.Role.PROGRAM_MANAGER, Membership.Role.AUDITOR])
def test_managers_and_auditors_may_not_review(
    program: Any, enterprise: Any, jianghan: Any, role: str
) -> None:
    app = application(enterprise, program, status=S.SUBMITTED)
    with pytest.raises(PermissionDenied):
        application_start_review(actor=Actor.for_user(official(jianghan, role)), application=app)


def test_another_districts_reviewer_may_not_review(
    program: Any, enterprise: Any, outsider_reviewer: Any
) -> None:
    app = application(enterprise, program, status=S.SUBMITTED)
    with pytest.raises(PermissionDenied):
        application_start_review(actor=Actor.for_user(outsider_reviewer), application=app)


def test_a_reviewer_may_not_submit_or_withdraw_for_the_enterprise(
    program: Any, enterprise: Any, reviewer: Any
) -> None:
    app = application(enterprise, program)
    with pytest.raises(PermissionDenied):
        application_submit(actor=Actor.for_user(reviewer), application=app)
    with pytest.raises(PermissionDenied):
        application_withdraw(actor=Actor.for_user(reviewer), application=app)


def test_another_enterprise_may_not_touch_the_application(program: Any, enterprise: Any) -> None:
    app = application(enterprise, program)
    other = member(EnterpriseFactory())
    with pytest.raises(PermissionDenied):
        application_submit(actor=Actor.for_user(other), application=app)
    with pytest.raises(PermissionDenied):
        application_save_draft(
            actor=Actor.for_user(other),
            enterprise=enterprise,
            program=program,
            requested_amount=Decimal("1"),
            purpose="x",
            application=app,
        )


@pytest.mark.parametrize(
    "status",
    [S.SUBMITTED, S.UNDER_REVIEW, S.AWAITING_SECOND_APPROVAL, S.APPROVED, S.REJECTED, S.WITHDRAWN],
)
def test_only_drafts_and_returned_applications_are_submitted_or_changed(
    program: Any, enterprise: Any, applicant: Any, status: str
) -> None:
    app = application(enterprise, program, status=status)
    me = Actor.for_user(applicant)
    with pytest.raises(BusinessError):
        application_submit(actor=me, application=app)
    with pytest.raises(BusinessError):
        application_save_draft(
            actor=me,
            enterprise=enterprise,
            program=program,
            requested_amount=Decimal("5"),
            purpose="x",
            application=app,
        )
    with pytest.raises(BusinessError):
        application_document_add(actor=me, application=app, upload=pdf_upload())


@pytest.mark.parametrize(
    "status", [S.DRAFT, S.SUBMITTED, S.APPROVED, S.REJECTED, S.RETURNED, S.WITHDRAWN]
)
def test_decisions_need_an_application_under_review(
    program: Any, enterprise: Any, reviewer: Any, status: str
) -> None:
    app = application(enterprise, program, status=status)
    actor = Actor.for_user(reviewer)
    with pytest.raises(BusinessError):
        application_approve(actor=actor, application=app)
    with pytest.raises(BusinessError):
        application_reject(actor=actor, application=app, note="n")
    with pytest.raises(BusinessError):
        application_return(actor=actor, application=app, note="n")


def test_an_ineligible_enterprise_cannot_submit_and_is_told_why(
    program: Any, jianghan: Any
) -> None:
    program.rule_set = rule_set(
        jianghan,
        {
            "any": [
                {"fact": "prior_year_revenue", "op": "gte", "value": "5000000"},
                {"fact": "headcount", "op": "gte", "value": "20"},
            ]
        },
    )
    program.save()
    small = EnterpriseFactory(headcount=1, prior_year_revenue=Decimal("310000"))
    user = member(small)
    app = _draft(user, small, program)
    with pytest.raises(BusinessError) as refused:
        application_submit(actor=Actor.for_user(user), application=app)
    assert "headcount: found 1 person, required at least 20 people" in str(refused.value.message)


def test_a_submission_without_a_document_is_refused(
    program: Any, enterprise: Any, applicant: Any
) -> None:
    app = application(enterprise, program, with_document=False)
    with pytest.raises(BusinessError) as refused:
        application_submit(actor=Actor.for_user(applicant), application=app)
    assert refused.value.field == "document"


def test_more_than_the_cap_cannot_be_requested(
    program: Any, enterprise: Any, applicant: Any
) -> None:
    with pytest.raises(BusinessError) as refused:
        application_save_draft(
            actor=Actor.for_user(applicant),
            enterprise=enterprise,
            program=program,
            requested_amount=program.per_enterprise_cap + 1,
            purpose="x",
        )
    assert refused.value.field == "requested_amount"


def test_one_live_application_per_program(program: Any, enterprise: Any, applicant: Any) -> None:
    _draft(applicant, enterprise, program)
    with pytest.raises(BusinessError):
        _draft(applicant, enterprise, program)


def test_a_paused_program_takes_no_submissions(
    program: Any, enterprise: Any, applicant: Any
) -> None:
    app = _draft(applicant, enterprise, program)
    type(program).objects.filter(pk=program.pk).update(status="paused")
    with pytest.raises(BusinessError):
        application_submit(actor=Actor.for_user(applicant), application=app)


def test_the_available_transitions_follow_role_and_state(
    program: Any, enterprise: Any, applicant: Any, reviewer: Any
) -> None:
    app = application(enterprise, program, status=S.SUBMITTED)
    names = lambda user: sorted(t.name for t in app.get_available_user_status_transitions(user))  # noqa: E731
    assert names(applicant) == ["withdraw"]
    assert names(reviewer) == ["start_review"]
    Application.objects.filter(pk=app.pk).update(status=S.UNDER_REVIEW)
    app.refresh_from_db()
    assert names(applicant) == []
    assert names(reviewer) == ["approve", "reject", "return_for_changes"]
