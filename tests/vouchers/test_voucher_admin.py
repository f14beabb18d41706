"""Officials' voucher admin: scoped, actions offered only when allowed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from tests.accounts.factories import DistrictFactory, EnterpriseFactory
from tests.programs.factories import ProgramFactory
from tests.vouchers.factories import issue, official
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db
BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def admin_client(district, *roles) -> Client:
    user = official(district, *roles)
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


@pytest.fixture
def voucher() -> Voucher:
    return issue(ProgramFactory(), amount="1000")


def action_url(voucher, action) -> str:
    return reverse("admin:vouchers_voucher_action", args=[voucher.pk, action])


def test_a_program_manager_is_offered_suspend_and_revoke_on_an_active_voucher(voucher) -> None:
    client = admin_client(voucher.program.district, Membership.Role.PROGRAM_MANAGER)
    html = client.get(reverse("admin:vouchers_voucher_change", args=[voucher.pk])).content.decode()
    assert action_url(voucher, "suspend") in html
    assert action_url(voucher, "revoke") in html
    assert action_url(voucher, "resume") not in html
    assert action_url(voucher, "clawback") not in html


def test_suspending_in_the_admin_needs_a_reason_and_keeps_the_form(voucher) -> None:
    client = admin_client(voucher.program.district, Membership.Role.PROGRAM_MANAGER)
    response = client.post(action_url(voucher, "suspend"), {"reason": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    response = client.post(action_url(voucher, "suspend"), {"reason": "Odd usage at 3 a.m."})
    assert response.status_code == 302
    voucher.refresh_from_db()
    assert (voucher.status, voucher.status_reason) == ("suspended", "Odd usage at 3 a.m.")
    html = client.get(reverse("admin:vouchers_voucher_change", args=[voucher.pk])).content.decode()
    assert action_url(voucher, "resume") in html
    assert action_url(voucher, "suspend") not in html


def test_a_clawback_of_more_than_was_covered_is_explained_next_to_the_amount(voucher) -> None:
    from django.utils import timezone

    from tests.accounts.factories import ComputePlatformFactory
    from tests.programs.factories import bind
    from tests.vouchers.factories import platform_actor
    from vouchers.services import voucher_redeem

    platform = ComputePlatformFactory()
    bind(voucher.program, platform)
    voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference="r",
        occurred_at=timezone.now(),
        billed_amount=Decimal("100"),
    )
    client = admin_client(voucher.program.district, Membership.Role.PROGRAM_MANAGER)
    response = client.post(
        action_url(voucher, "clawback"), {"reason": "Moved away", "amount": "31"}
    )
    assert (
        "At most ¥30.00" in response.content.decode()
        or "At most 30.00" in response.content.decode()
    )
    voucher.refresh_from_db()
    assert voucher.status == "active"


def test_a_reviewer_is_offered_no_action_and_cannot_post_one(voucher) -> None:
    client = admin_client(voucher.program.district, Membership.Role.REVIEWER)
    change = client.get(reverse("admin:vouchers_voucher_change", args=[voucher.pk]))
    assert change.status_code == 200
    assert action_url(voucher, "suspend") not in change.content.decode()
    response = client.post(action_url(voucher, "suspend"), {"reason": "x"})
    assert response.status_code == 302
    voucher.refresh_from_db()
    assert voucher.status == "active"


def test_an_official_of_another_district_cannot_see_the_voucher(voucher) -> None:
    client = admin_client(
        DistrictFactory(code="520100", name="贵阳市"), Membership.Role.PROGRAM_MANAGER
    )
    assert client.get(reverse("admin:vouchers_voucher_change", args=[voucher.pk])).status_code in (
        302,
        404,
    )
    assert client.post(action_url(voucher, "suspend"), {"reason": "x"}).status_code == 404
    assert (
        voucher.code
        not in client.get(reverse("admin:vouchers_voucher_changelist")).content.decode()
    )


def test_bulk_issue_in_the_admin_checks_then_issues(voucher) -> None:
    program = voucher.program
    client = admin_client(program.district, Membership.Role.PROGRAM_MANAGER)
    a = EnterpriseFactory()
    url = reverse("admin:vouchers_voucher_bulk_issue")
    text = f"uscc,amount\n{a.uscc},1200\n"
    checked = client.post(url, {"program": program.pk, "csv_text": text, "validate_only": "on"})
    assert checked.status_code == 200
    assert Voucher.objects.count() == 1
    bad = client.post(url, {"program": program.pk, "csv_text": text + "XYZ,1\n"})
    assert "Nothing was issued" in bad.content.decode()
    assert "XYZ,1" in bad.content.decode()  # what was pasted is kept
    assert Voucher.objects.count() == 1
    client.post(url, {"program": program.pk, "csv_text": text})
    assert Voucher.objects.filter(enterprise=a, face_value=Decimal("1200")).exists()


def test_a_reviewer_may_not_bulk_issue(voucher) -> None:
    client = admin_client(voucher.program.district, Membership.Role.REVIEWER)
    assert client.get(reverse("admin:vouchers_voucher_bulk_issue")).status_code == 403
