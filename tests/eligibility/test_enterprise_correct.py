"""An enterprise corrects its registration data through the portal, which sends
it back to verification; only its administrator may, and a bad or taken code
changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Enterprise, Membership
from audit import events
from audit.models import AuditEvent
from tests.accounts.factories import (
    DistrictFactory,
    EnterpriseFactory,
    enterprise_user,
    make_uscc,
    official,
)

pytestmark = pytest.mark.django_db


def form_data(enterprise: Enterprise, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": enterprise.name,
        "uscc": enterprise.uscc,
        "legal_representative": enterprise.legal_representative,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
        "contact_email": enterprise.contact_email,
        "address": enterprise.address,
        "industry": enterprise.industry,
        "founded_on": enterprise.founded_on.isoformat(),
        "headcount": str(enterprise.headcount),
        "prior_year_revenue": str(enterprise.prior_year_revenue),
        "local_tax_paid": str(enterprise.local_tax_paid),
    }
    data.update(overrides)
    return data


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(enterprise: Enterprise) -> str:
    return reverse("enterprise_registration_correct", args=[enterprise.pk])


@pytest.fixture
def verified() -> Enterprise:
    return EnterpriseFactory(status=Enterprise.Status.VERIFIED, division="420103")


def test_the_administrator_corrects_the_data_and_the_enterprise_goes_back_to_verification(
    verified,
) -> None:
    client = logged_in(enterprise_user(verified))
    page = client.get(url(verified))
    assert page.status_code == 200
    assert f'value="{verified.uscc}"' in page.content.decode()
    corrected_code = make_uscc("420106", 77)
    response = client.post(url(verified), form_data(verified, uscc=corrected_code, headcount="31"))
    assert response.status_code == 302
    assert response["Location"] == reverse("enterprise_detail", args=[verified.pk])
    verified.refresh_from_db()
    assert verified.uscc == corrected_code
    assert verified.division_code == "420106"
    assert verified.headcount == 31
    assert verified.status == Enterprise.Status.PENDING
    event = AuditEvent.objects.get(event_type=events.ENTERPRISE_CORRECTED)
    assert event.enterprise_id == verified.pk
    assert event.before["status"] == "verified" and event.after["status"] == "pending"
    assert event.after["changed"] == ["headcount", "uscc"]
    assert event.after["uscc"] == corrected_code
    portal = client.get(reverse("portal")).content.decode()
    # The registration district by name, never by its code.
    assert "湖北省武汉市武昌区" in portal
    assert "420106" not in portal.replace(corrected_code, "")
    assert url(verified) in portal


def test_saving_unchanged_data_is_no_correction(verified) -> None:
    client = logged_in(enterprise_user(verified))
    response = client.post(url(verified), form_data(verified))
    assert response.status_code == 302
    verified.refresh_from_db()
    assert verified.status == Enterprise.Status.VERIFIED
    assert not AuditEvent.objects.filter(event_type=events.ENTERPRISE_CORRECTED).exists()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("91999999MA4K3Q7R53", "Characters 3 to 8 (999999) are not the code of any"),
        ("91420103MA4K3Q7R5A", "The check character does not match"),
    ],
)
def test_a_bad_code_is_refused_beside_the_field_and_nothing_changes(
    verified, code: str, message: str
) -> None:
    client = logged_in(enterprise_user(verified))
    response = client.post(url(verified), form_data(verified, uscc=code, headcount="99"))
    assert response.status_code == 200
    assert response.context["form"].errors["uscc"][0].startswith(message)
    verified.refresh_from_db()
    assert verified.headcount != 99
    assert verified.status == Enterprise.Status.VERIFIED


def test_the_code_of_another_registered_enterprise_is_refused(verified) -> None:
    other = EnterpriseFactory()
    client = logged_in(enterprise_user(verified))
    response = client.post(url(verified), form_data(verified, uscc=other.uscc))
    assert response.status_code == 200
    assert "already registered" in response.context["form"].errors["uscc"][0]
    verified.refresh_from_db()
    assert verified.uscc != other.uscc
    assert verified.status == Enterprise.Status.VERIFIED


def test_a_suspended_enterprise_cannot_correct_itself_back_to_pending() -> None:
    suspended = EnterpriseFactory(status=Enterprise.Status.SUSPENDED)
    client = logged_in(enterprise_user(suspended))
    response = client.post(url(suspended), form_data(suspended, headcount="40"))
    assert response.status_code == 200
    assert "suspended" in " ".join(response.context["form"].non_field_errors())
    suspended.refresh_from_db()
    assert suspended.status == Enterprise.Status.SUSPENDED
    assert suspended.headcount != 40


def test_a_plain_member_another_enterprise_and_an_official_may_not_correct(verified) -> None:
    member = enterprise_user(verified, role=Membership.Role.ENTERPRISE_MEMBER)
    assert logged_in(member).post(url(verified), form_data(verified, name="X")).status_code == 403
    outsider = enterprise_user(EnterpriseFactory())
    assert logged_in(outsider).get(url(verified)).status_code == 404
    assert logged_in(outsider).post(url(verified), form_data(verified, name="X")).status_code == 404
    jianghan = DistrictFactory(code="420103")
    # (An official is first sent to set up two-factor sign-in; never to the form.)
    assert logged_in(official(jianghan)).get(url(verified)).status_code in (302, 404)
    assert logged_in(official(jianghan)).post(
        url(verified), form_data(verified, name="X")
    ).status_code in (302, 404)
    anonymous = Client().get(url(verified))
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    verified.refresh_from_db()
    assert verified.name != "X"
    assert verified.status == Enterprise.Status.VERIFIED


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_form_opens_with_every_registered_value_the_date_included(
    verified: Enterprise, language: str
) -> None:
    # A date input shows only an ISO date (YYYY-MM-DD); a localized one
    # ("2019/05/14") leaves it blank, and the required date must be typed again.
    admin = enterprise_user(verified)
    page = logged_in(admin).get(url(verified), HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'value="{verified.founded_on.isoformat()}"' in html
    assert f'value="{verified.uscc}"' in html
