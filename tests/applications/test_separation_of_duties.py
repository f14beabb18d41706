"""Separation of duties: staff of a district never act on an enterprise they
are a member of — not by registering or joining one, not by applying for it,
not by reviewing, approving, issuing, suspending or deciding flags on it.

The walk the issue reports: an official registered an enterprise through
``/enterprise/register/``, applied for ¥140,000 in their own district,
started the review and approved it. Every door of that walk is tried here
through the pages, with a user who is (from before this rule) on both sides.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.duties import duties_conflict
from accounts.models import Enterprise, Membership
from applications.models import Application, BulkIssuance
from applications.services import application_approve, application_start_review
from audit.services import Actor
from oversight.flags import flag_decision_refusal, flag_dismiss
from oversight.models import AnomalyFlag
from programs.models import Program
from tests.accounts.factories import EnterpriseFactory, make_uscc
from tests.applications.factories import PDF_BYTES, application
from tests.vouchers.factories import client_for, member, official, with_mfa
from vouchers.models import Voucher
from vouchers.services import voucher_issue, voucher_suspend

pytestmark = pytest.mark.django_db

S = Application.Status
REGISTRATION = {
    "name": "武汉江汉自家智能科技有限公司",
    "legal_representative": "王官",
    "contact_name": "王官",
    "contact_phone": "027-8888-0002",
    "contact_email": "own@example-ai.com",
    "address": "武汉市江汉区",
    "industry": Enterprise.Industry.INFORMATION,
    "founded_on": "2021-05-20",
    "headcount": "23",
    "prior_year_revenue": "5600000.00",
    "local_tax_paid": "210000.00",
}


def _both_sides(district: Any, enterprise: Enterprise, *roles: str) -> Any:
    """An official of ``district`` who is also a member of ``enterprise``
    (as could be set up before the rule existed)."""
    user = with_mfa(official(district, *roles))
    Membership.objects.create(
        user=user, role=Membership.Role.ENTERPRISE_ADMIN, enterprise=enterprise
    )
    return user


def _review_url(app: Application) -> str:
    return reverse("admin:applications_application_change", args=[app.pk])


def test_an_official_cannot_register_an_enterprise_through_the_portal(jianghan: Any) -> None:
    reviewer = with_mfa(official(jianghan, Membership.Role.REVIEWER))
    client = client_for(reviewer)
    page = client.get(reverse("enterprise_register")).content.decode()
    assert "Staff of a district may not register or join an enterprise" in page
    response = client.post(
        reverse("enterprise_register"), {**REGISTRATION, "uscc": make_uscc("420103")}
    )
    assert response.status_code == 200
    assert "Staff of a district may not register or join an enterprise" in (
        response.content.decode()
    )
    assert not Enterprise.objects.exists()
    assert not Membership.objects.filter(user=reviewer, enterprise__isnull=False).exists()


def test_the_superuser_cannot_make_an_official_a_member_of_an_enterprise_in_the_admin(
    jianghan: Any, enterprise: Enterprise
) -> None:
    from accounts.models import User

    admin = with_mfa(User.objects.create_superuser("root@example.com", "pw-Test-12345"))
    reviewer = official(jianghan, Membership.Role.REVIEWER)
    response = client_for(admin).post(
        reverse("admin:accounts_membership_add"),
        {
            "user": reviewer.pk,
            "role": Membership.Role.ENTERPRISE_MEMBER,
            "enterprise": enterprise.pk,
        },
    )
    assert response.status_code == 200
    assert "staff of a district" in response.content.decode().lower()
    assert not Membership.objects.filter(user=reviewer, enterprise=enterprise).exists()
    member_ = member(enterprise)
    response = client_for(admin).post(
        reverse("admin:accounts_membership_add"),
        {"user": member_.pk, "role": Membership.Role.REVIEWER, "district": jianghan.pk},
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(user=member_, district=jianghan).exists()


def test_an_official_who_is_a_member_cannot_apply_for_the_enterprise(
    program: Program, enterprise: Enterprise, jianghan: Any
) -> None:
    insider = _both_sides(jianghan, enterprise, Membership.Role.REVIEWER)
    client = client_for(insider)
    response = client.post(
        reverse("application_apply", args=[program.pk]),
        {
            "requested_amount": "140000",
            "purpose": "Our own model.",
            "document": SimpleUploadedFile("licence.pdf", PDF_BYTES),
            "intent": "submit",
        },
        follow=True,
    )
    assert "never act on an enterprise they are a member of" in response.content.decode()
    assert not Application.objects.exists()


def test_an_official_who_is_a_member_is_offered_no_review_and_cannot_force_it(
    program: Program, enterprise: Enterprise, jianghan: Any
) -> None:
    app = application(enterprise, program, status=S.SUBMITTED, amount=Decimal("140000"))
    insider = _both_sides(jianghan, enterprise, Membership.Role.REVIEWER)
    client = client_for(insider)
    page = client.get(_review_url(app))
    assert page.status_code == 200
    body = page.content.decode()
    assert "never act on an enterprise they are a member of" in body
    assert page.context["actions"] == []
    client.post(_review_url(app), {"action": "start_review"})
    app.refresh_from_db()
    assert app.status == S.SUBMITTED
    # The service refuses it too, with the reason (not only the page).
    with pytest.raises(PermissionDenied, match="member of"):
        application_start_review(actor=Actor.for_user(insider), application=app)


def test_an_official_who_is_a_member_cannot_approve_the_enterprises_application(
    program: Program, enterprise: Enterprise, jianghan: Any
) -> None:
    app = application(enterprise, program, status=S.UNDER_REVIEW, amount=Decimal("140000"))
    insider = _both_sides(jianghan, enterprise, Membership.Role.REVIEWER)
    client = client_for(insider)
    client.post(_review_url(app), {"action": "approve", "amount": "", "note": ""})
    app.refresh_from_db()
    assert app.status == S.UNDER_REVIEW
    assert not Voucher.objects.exists()
    with pytest.raises(PermissionDenied, match="member of"):
        application_approve(actor=Actor.for_user(insider), application=app)
    assert not Voucher.objects.exists()


def test_a_program_manager_who_is_a_member_cannot_suspend_or_issue_to_the_enterprise(
    program: Program, enterprise: Enterprise, jianghan: Any
) -> None:
    voucher = voucher_issue(
        actor=Actor.system("tests"),
        program=program,
        enterprise=enterprise,
        amount=Decimal("1000"),
        from_reservation=False,
    )
    insider = _both_sides(jianghan, enterprise, Membership.Role.PROGRAM_MANAGER)
    client = client_for(insider)
    page = client.get(reverse("admin:vouchers_voucher_change", args=[voucher.pk]))
    action = reverse("admin:vouchers_voucher_action", args=[voucher.pk, "suspend"])
    assert action not in page.content.decode()
    response = client.post(action, {"reason": "Looks fine to me."}, follow=True)
    assert "member of" in response.content.decode()
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE
    with pytest.raises(PermissionDenied):
        voucher_suspend(actor=Actor.for_user(insider), voucher=voucher, reason="x")
    with pytest.raises(PermissionDenied):
        voucher_issue(
            actor=Actor.for_user(insider),
            program=program,
            enterprise=enterprise,
            amount=Decimal("1000"),
            from_reservation=False,
        )


def test_a_program_manager_who_is_a_member_cannot_bulk_issue_to_the_enterprise(
    program: Program, enterprise: Enterprise, jianghan: Any
) -> None:
    insider = _both_sides(jianghan, enterprise, Membership.Role.PROGRAM_MANAGER)
    response = client_for(insider).post(
        reverse("admin:vouchers_voucher_bulk_issue"),
        {"program": program.pk, "csv_text": f"{enterprise.uscc},1000\n"},
    )
    assert response.status_code == 200
    assert "member of this enterprise" in response.content.decode()
    assert not Voucher.objects.exists()
    assert not BulkIssuance.objects.exists()


def test_a_program_manager_who_is_a_member_cannot_change_the_enterprise_in_the_admin(
    enterprise: Enterprise, jianghan: Any
) -> None:
    Enterprise.objects.filter(pk=enterprise.pk).update(status=Enterprise.Status.PENDING)
    insider = _both_sides(jianghan, enterprise, Membership.Role.PROGRAM_MANAGER)
    url = reverse("admin:accounts_enterprise_change", args=[enterprise.pk])
    client = client_for(insider)
    assert client.get(url).context["has_change_permission"] is False
    response = client.post(url, {"status": Enterprise.Status.VERIFIED})
    assert response.status_code == 403
    enterprise.refresh_from_db()
    assert enterprise.status == Enterprise.Status.PENDING
    # Another program manager of the district may still verify it.
    outsider = with_mfa(official(jianghan, Membership.Role.PROGRAM_MANAGER))
    assert client_for(outsider).get(url).context["has_change_permission"]


def test_an_official_who_is_a_member_cannot_decide_a_flag_on_the_enterprise(
    program: Program, enterprise: Enterprise, jianghan: Any
) -> None:
    import datetime

    from django.utils import timezone

    today = timezone.localdate()
    flag = AnomalyFlag.objects.create(
        detector=AnomalyFlag.Detector.USAGE_SPIKE,
        district=jianghan,
        enterprise=enterprise,
        program=program,
        subject=f"enterprise:{enterprise.pk}",
        period_start=today - datetime.timedelta(days=1),
        period_end=today,
        score=Decimal("10"),
        evidence={},
    )
    insider = _both_sides(jianghan, enterprise, Membership.Role.REVIEWER)
    assert "member of" in (flag_decision_refusal(flag=flag, user=insider) or "")
    with pytest.raises(PermissionDenied):
        flag_dismiss(actor=Actor.for_user(insider), flag=flag, note="Nothing to see.")
    flag.refresh_from_db()
    assert flag.status == AnomalyFlag.Status.OPEN


def test_officials_who_are_no_members_are_not_affected(
    enterprise: Enterprise, reviewer: Any
) -> None:
    assert duties_conflict(user=reviewer, enterprise_id=enterprise.pk) is None
    assert duties_conflict(user=member(EnterpriseFactory()), enterprise_id=enterprise.pk) is None
