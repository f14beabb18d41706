"""The company details page and its edit form: members read, administrators
edit; a change of verified data goes back to verification and the page says
why, a change of contact details does not; a pasted USCC is accepted."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.forms import USCC_INPUT_MAX_LENGTH
from accounts.models import Enterprise, Membership
from audit import events
from audit.models import AuditEvent
from eligibility.selectors import enterprise_verification
from tests.accounts.factories import (
    DistrictFactory,
    EnterpriseFactory,
    UserFactory,
    enterprise_user,
    make_uscc,
)
from tests.eligibility.test_enterprise_correct import form_data

pytestmark = pytest.mark.django_db


def logged_in(user: Any, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def detail(enterprise: Enterprise) -> str:
    return reverse("enterprise_detail", args=[enterprise.pk])


def edit(enterprise: Enterprise) -> str:
    return reverse("enterprise_registration_correct", args=[enterprise.pk])


def spaced(code: str) -> str:
    """A code as people paste it: groups of four, lower case."""
    return " ".join(code[i : i + 4] for i in range(0, 18, 4)).lower()


@pytest.fixture
def verified() -> Enterprise:
    DistrictFactory(code="420103", name="江汉区", name_en="Jianghan District, Wuhan")
    return EnterpriseFactory(status=Enterprise.Status.VERIFIED, division="420103")


def test_a_change_of_contact_details_keeps_the_enterprise_verified(verified) -> None:
    client = logged_in(enterprise_user(verified))
    response = client.post(
        edit(verified),
        form_data(verified, contact_name="王芳", contact_phone="027-5555-0101"),
        follow=True,
    )
    assert response.redirect_chain == [(detail(verified), 302)]
    verified.refresh_from_db()
    assert (verified.contact_name, verified.contact_phone) == ("王芳", "027-5555-0101")
    assert verified.status == Enterprise.Status.VERIFIED
    assert not AuditEvent.objects.filter(event_type=events.ENTERPRISE_CORRECTED).exists()
    event = AuditEvent.objects.get(event_type=events.ENTERPRISE_CONTACT_UPDATED)
    assert event.enterprise_id == verified.pk
    assert event.after == {
        "status": "verified",
        "changed": ["contact_name", "contact_phone"],
        "contact_name": "…",
        "contact_phone": "…",
    }
    assert "your verification stands" in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "江汉新名称科技有限公司"),
        ("legal_representative", "李强"),
        ("address", "武汉市江汉区新华路1号"),
        ("industry", Enterprise.Industry.MANUFACTURING),
        ("founded_on", "2015-03-01"),
        ("headcount", "7"),
        ("prior_year_revenue", "123.45"),
        ("local_tax_paid", "9.99"),
    ],
)
def test_a_change_of_verified_data_goes_back_to_verification(verified, field, value) -> None:
    client = logged_in(enterprise_user(verified))
    response = client.post(edit(verified), form_data(verified, **{field: value}))
    assert response.status_code == 302
    verified.refresh_from_db()
    assert verified.status == Enterprise.Status.PENDING
    event = AuditEvent.objects.get(event_type=events.ENTERPRISE_CORRECTED)
    assert event.after["changed"] == [field]


def test_the_details_say_why_verification_is_pending_and_name_the_district(verified) -> None:
    admin = enterprise_user(verified)
    logged_in(admin).post(edit(verified), form_data(verified, name="新名称", headcount="40"))
    # A second correction while waiting adds to what the district checks.
    logged_in(admin).post(
        edit(verified), form_data(verified, name="新名称", headcount="40", address="新地址1号")
    )
    verified.refresh_from_db()
    state = enterprise_verification(enterprise=verified)
    assert state.pending and not state.since_registration
    assert state.changed == ["name", "registered address", "headcount"]
    page = logged_in(admin).get(detail(verified)).content.decode()
    assert "Why verification is pending" in page
    for label in ("Name", "Registered address", "Headcount"):
        assert f"<li>{label}</li>" in page
    assert "湖北省武汉市江汉区" in page
    assert "Verifying district: Jianghan District, Wuhan." in page
    assert "420103" not in page.replace(verified.uscc, "")
    zh = logged_in(admin, "zh-hans").get(detail(verified)).content.decode()
    assert "核验中" in zh or "待核验" in zh or "等待核验" in zh
    assert "湖北省武汉市江汉区" in zh


def test_a_new_registration_waits_for_its_first_verification() -> None:
    pending = EnterpriseFactory(status=Enterprise.Status.PENDING, division="420103")
    AuditEvent.objects.create(
        event_type=events.ENTERPRISE_REGISTERED,
        actor_kind="user",
        actor_label="x@example.com",
        object_type="accounts.enterprise",
        object_id=str(pending.pk),
        enterprise_id=pending.pk,
    )
    state = enterprise_verification(enterprise=pending)
    assert state.since_registration and state.changed == []
    page = logged_in(enterprise_user(pending)).get(detail(pending)).content.decode()
    assert "Your enterprise registered recently" in page


def test_a_member_reads_the_details_but_may_not_edit_them(verified) -> None:
    member = enterprise_user(verified, role=Membership.Role.ENTERPRISE_MEMBER)
    page = logged_in(member).get(detail(verified))
    assert page.status_code == 200
    assert verified.name in page.content.decode()
    assert edit(verified) not in page.content.decode()
    assert logged_in(member).get(edit(verified)).status_code == 403
    assert logged_in(member).post(edit(verified), form_data(verified, name="X")).status_code == 403
    assert logged_in(enterprise_user(EnterpriseFactory())).get(detail(verified)).status_code == 404
    assert logged_in(UserFactory()).get(detail(verified)).status_code == 404
    assert Client().get(detail(verified)).status_code == 302
    admin_page = logged_in(enterprise_user(verified)).get(detail(verified)).content.decode()
    assert edit(verified) in admin_page


def test_a_suspended_enterprise_may_still_update_its_contact_details() -> None:
    suspended = EnterpriseFactory(status=Enterprise.Status.SUSPENDED)
    client = logged_in(enterprise_user(suspended))
    response = client.post(edit(suspended), form_data(suspended, contact_phone="010-1234-5678"))
    assert response.status_code == 302
    suspended.refresh_from_db()
    assert suspended.contact_phone == "010-1234-5678"
    assert suspended.status == Enterprise.Status.SUSPENDED
    refused = client.post(edit(suspended), form_data(suspended, headcount="99"))
    assert refused.status_code == 200
    suspended.refresh_from_db()
    assert suspended.headcount != 99


# --- A USCC as people paste it --------------------------------------------------


def test_the_uscc_inputs_are_long_enough_for_a_pasted_code(verified) -> None:
    assert len(spaced(verified.uscc)) == 22
    assert USCC_INPUT_MAX_LENGTH >= 35  # one space between every character
    admin = enterprise_user(verified)
    for page in (
        logged_in(admin).get(edit(verified)),
        logged_in(UserFactory()).get(reverse("enterprise_register")),
    ):
        html = page.content.decode()
        start = html.index('name="uscc"')
        tag = html[html.rindex("<input", 0, start) : html.index(">", start)]
        assert f'maxlength="{USCC_INPUT_MAX_LENGTH}"' in tag
        assert 'autocomplete="off"' in tag


def test_a_pasted_code_with_spaces_and_lower_case_is_saved_normalised(verified) -> None:
    corrected = make_uscc("420106", 5150)
    client = logged_in(enterprise_user(verified))
    response = client.post(edit(verified), form_data(verified, uscc=f" {spaced(corrected)} "))
    assert response.status_code == 302
    verified.refresh_from_db()
    assert verified.uscc == corrected
    assert verified.division_code == "420106"


def test_a_pasted_code_with_full_width_characters_and_hyphens_is_accepted() -> None:
    code = make_uscc("420103", 6262)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code[:9]) + "-" + code[9:].lower()
    client = logged_in(UserFactory())
    data = form_data(EnterpriseFactory.build(uscc=code), uscc=full_width)
    response = client.post(reverse("enterprise_register"), data)
    assert response.status_code == 302, response.context["form"].errors
    assert Enterprise.objects.get(uscc=code)


def test_a_pasted_code_that_is_still_wrong_says_why_in_plain_words(verified) -> None:
    client = logged_in(enterprise_user(verified))
    too_long = "9142 0103 MA4K 3Q7R 5R 9142 0103 MA4K 3Q7R 5R"
    response = client.post(edit(verified), form_data(verified, uscc=too_long))
    assert response.status_code == 200
    [message] = response.context["form"].errors["uscc"]
    assert "18 characters" in message
