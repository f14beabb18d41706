"""The enterprise portal pages and the reviewer's admin page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from applications.models import Application
from programs.models import Program
from tests.accounts.factories import EnterpriseFactory
from tests.applications.factories import PDF_BYTES, application
from tests.eligibility.factories import rule_set
from tests.vouchers.factories import client_for, member, official, with_mfa

pytestmark = pytest.mark.django_db

S = Application.Status

RULE = {
    "all": [
        {"fact": "registered_division", "op": "within", "value": "420103"},
        {
            "any": [
                {"fact": "prior_year_revenue", "op": "gte", "value": "5000000"},
                {"fact": "headcount", "op": "gte", "value": "20"},
            ]
        },
    ]
}


def test_the_program_list_explains_eligibility(
    program: Program, jianghan: Any, django_assert_max_num_queries: Any
) -> None:
    program.rule_set = rule_set(jianghan, RULE, "Jianghan rule")
    program.save()
    small = EnterpriseFactory(division="420103", headcount=1, prior_year_revenue=Decimal("300000"))
    client = client_for(member(small))
    with django_assert_max_num_queries(25):
        response = client.get(reverse("program_list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "does not meet the conditions" in body
    assert "found 1 person," in body
    assert reverse("application_apply", args=[program.pk]) not in body


def test_an_eligible_enterprise_applies_saves_a_draft_then_submits(
    program: Program, enterprise: Any, applicant: Any
) -> None:
    client = client_for(applicant)
    response = client.post(
        reverse("application_apply", args=[program.pk]),
        {
            "requested_amount": "120000",
            "purpose": "Train a dialect model.",
            "document": SimpleUploadedFile("licence.pdf", PDF_BYTES),
            "intent": "save",
        },
    )
    assert response.status_code == 302
    app = Application.objects.get(enterprise=enterprise)
    assert app.status == S.DRAFT
    assert app.documents.count() == 1
    response = client.post(
        reverse("application_edit", args=[app.pk]),
        {"requested_amount": "120000", "purpose": "Train a dialect model.", "intent": "submit"},
    )
    assert response.status_code == 302, response.content.decode()
    app.refresh_from_db()
    assert app.status == S.SUBMITTED
    detail = client.get(reverse("application_detail", args=[app.pk])).content.decode()
    assert "Submitted" in detail


def test_a_bad_amount_is_shown_beside_the_field_and_nothing_typed_is_lost(
    program: Program, applicant: Any
) -> None:
    client = client_for(applicant)
    response = client.post(
        reverse("application_apply", args=[program.pk]),
        {"requested_amount": "999999999", "purpose": "Keep this text.", "intent": "save"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Keep this text." in body
    assert 'value="999999999"' in body
    assert "field-error" in body


def test_submitting_without_a_document_says_so_next_to_the_upload(
    program: Program, enterprise: Any, applicant: Any
) -> None:
    client = client_for(applicant)
    response = client.post(
        reverse("application_apply", args=[program.pk]),
        {"requested_amount": "1000", "purpose": "Something.", "intent": "submit"},
    )
    assert response.status_code == 400
    assert "Attach at least one supporting document." in response.content.decode()
    # The draft was kept, so the next post goes to its edit page.
    app = Application.objects.get(enterprise=enterprise)
    assert reverse("application_edit", args=[app.pk]) in response.content.decode()


def test_answering_a_return_and_withdrawing(
    program: Program, enterprise: Any, applicant: Any
) -> None:
    app = application(enterprise, program, status=S.RETURNED)
    client = client_for(applicant)
    page = client.get(reverse("application_edit", args=[app.pk]))
    assert page.status_code == 200
    response = client.post(
        reverse("application_edit", args=[app.pk]),
        {"requested_amount": "50000", "purpose": "Changed as asked.", "intent": "submit"},
    )
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.status == S.SUBMITTED
    response = client.post(reverse("application_withdraw", args=[app.pk]))
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.status == S.WITHDRAWN


def test_other_enterprises_cannot_see_an_application(program: Program, enterprise: Any) -> None:
    app = application(enterprise, program)
    stranger = client_for(member(EnterpriseFactory()))
    assert stranger.get(reverse("application_detail", args=[app.pk])).status_code == 404
    assert stranger.get(reverse("application_edit", args=[app.pk])).status_code == 404
    assert stranger.post(reverse("application_withdraw", args=[app.pk])).status_code == 404
    assert Client().get(reverse("application_list")).status_code == 302


def test_the_reviewer_page_offers_only_allowed_actions_and_requires_a_note(
    program: Program, enterprise: Any, jianghan: Any
) -> None:
    app = application(enterprise, program, status=S.UNDER_REVIEW)
    reviewer = with_mfa(official(jianghan, Membership.Role.REVIEWER))
    client = client_for(reviewer)
    url = reverse("admin:applications_application_change", args=[app.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["actions"] == ["approve", "reject", "return_for_changes"]
    response = client.post(url, {"action": "return_for_changes", "note": ""})
    assert response.status_code == 200
    assert "Write a note" in response.content.decode()
    response = client.post(url, {"action": "return_for_changes", "note": "Add the contract."})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.status == S.RETURNED


def test_auditors_see_the_review_page_without_actions(
    program: Program, enterprise: Any, jianghan: Any
) -> None:
    app = application(enterprise, program, status=S.UNDER_REVIEW)
    auditor = with_mfa(official(jianghan, Membership.Role.AUDITOR))
    client = client_for(auditor)
    url = reverse("admin:applications_application_change", args=[app.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["actions"] == []
    client.post(url, {"action": "approve"})
    app.refresh_from_db()
    assert app.status == S.UNDER_REVIEW


def test_another_districts_reviewer_cannot_open_the_review_page(
    program: Program, enterprise: Any, guiyang: Any
) -> None:
    app = application(enterprise, program, status=S.UNDER_REVIEW)
    client = client_for(with_mfa(official(guiyang, Membership.Role.REVIEWER)))
    assert (
        client.get(reverse("admin:applications_application_change", args=[app.pk])).status_code
        == 404
    )


def test_officials_see_enterprises_that_applied_from_outside_their_district(
    guiyang: Any,
) -> None:
    from accounts.models import Enterprise
    from accounts.scoping import scoped
    from tests.programs.factories import open_program

    nationwide = open_program(district=guiyang, cross_region=True)
    far = EnterpriseFactory(division="420103")
    application(far, nationwide, status=S.SUBMITTED)
    application(far, open_program(district=guiyang, cross_region=True), status=S.SUBMITTED)
    reviewer = official(guiyang, Membership.Role.REVIEWER)
    visible = list(scoped(Enterprise.objects.all(), reviewer))
    assert visible == [far]
