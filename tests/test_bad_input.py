"""Bad input to the forms: never a server error, never a partial write, and a
message next to the field at fault.

Property-based: hypothesis sends malformed, oversize, wrongly typed,
unicode-heavy and boundary values to each field of the enterprise
registration form, the application form and the program admin form. The API
gets the same treatment from schemathesis (tests/platforms/test_schemathesis.py)
and the field-by-field tests of tests/platforms/test_endpoints.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Enterprise, Membership
from applications.models import Application
from programs.models import PhaseStep, Program
from tests.accounts.factories import DistrictFactory, EnterpriseFactory, make_uscc
from tests.programs.factories import ProgramFactory, open_program
from tests.vouchers.factories import client_for, member, official, reauthenticated, with_mfa

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # Every example makes a user; the default hasher would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(min_size=300, max_size=6000),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "'; DROP TABLE accounts_enterprise; --",
            "<script>alert(1)</script>",
            "١٢٣",
            "１２３",
            "1e309",
            "NaN",
            "-0",
            "9" * 40,
            "0.001",
            "2026-02-30",
            "𝟘𝟙𝟚",
            "\u202e" + "abc",
            "ＡＢＣ",
        ]
    ),
)


ENTERPRISE_FIELDS = [
    "name",
    "uscc",
    "legal_representative",
    "contact_name",
    "contact_phone",
    "contact_email",
    "address",
    "industry",
    "founded_on",
    "headcount",
    "prior_year_revenue",
    "local_tax_paid",
]


def _good_enterprise() -> dict[str, str]:
    return {
        "name": "武汉测试科技有限公司",
        "uscc": make_uscc("420103"),
        "legal_representative": "陈立华",
        "contact_name": "周敏",
        "contact_phone": "027-8561-2201",
        "contact_email": "contact@example.com",
        "address": "武汉市江汉区",
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": "2019-05-14",
        "headcount": "30",
        "prior_year_revenue": "8000000",
        "local_tax_paid": "400000",
    }


@HYPOTHESIS
@given(field=st.sampled_from(ENTERPRISE_FIELDS), value=nasty_text)
def test_the_enterprise_registration_form_refuses_bad_values_without_a_trace(
    field: str, value: str
) -> None:
    from tests.accounts.factories import UserFactory

    user = UserFactory()
    client = client_for(user)
    data = {**_good_enterprise(), field: value}
    before = Enterprise.objects.count()
    response = client.post(reverse("enterprise_register"), data)
    assert response.status_code < 500, (field, value)
    created = Enterprise.objects.count() - before
    if response.status_code in (200, 400):
        # Refused: the form again, the error next to the field, nothing written.
        assert created == 0
        form = response.context["form"]
        assert form.errors, (field, value)
        assert field in form.errors or "__all__" in form.errors
        # What was typed is still there.
        assert "武汉测试科技有限公司" in response.content.decode() or field == "name"
    else:
        # Accepted: only when the value was acceptable after all, and whole.
        assert created == 1
        assert Membership.objects.filter(user=user).count() == 1


@HYPOTHESIS
@given(
    amount=st.one_of(
        nasty_text,
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.integers(min_value=-(10**20), max_value=10**20).map(str),
    ),
    purpose=nasty_text,
)
def test_the_application_form_refuses_bad_values_without_a_trace(amount: str, purpose: str) -> None:
    district = DistrictFactory()
    program = open_program(district=district, per_enterprise_cap=Decimal("300000"))
    enterprise = EnterpriseFactory()
    client = client_for(member(enterprise))
    before = Application.objects.count()
    response = client.post(
        reverse("application_apply", args=[program.pk]),
        {"requested_amount": amount, "purpose": purpose, "intent": "save"},
    )
    assert response.status_code < 500, (amount, purpose)
    if response.status_code in (200, 400):
        # Refused (400, the form again with its errors): nothing written.
        assert Application.objects.count() == before
        assert response.context["form"].errors
    else:
        application = Application.objects.get(enterprise=enterprise, program=program)
        assert Decimal("0.01") <= application.requested_amount <= Decimal("300000")
        assert 0 < len(application.purpose) <= 5000


PROGRAM_FIELDS = [
    "name",
    "total_budget",
    "per_enterprise_cap",
    "per_charge_cap",
    "base_rate",
    "application_opens_on",
    "application_closes_on",
    "voucher_validity_days",
    "phase_steps-0-rate",
    "phase_steps-0-starts_on",
]


@HYPOTHESIS
@given(field=st.sampled_from(PROGRAM_FIELDS), value=nasty_text)
def test_the_program_admin_refuses_bad_values_without_a_partial_write(
    field: str, value: str
) -> None:
    district = DistrictFactory()
    manager = with_mfa(official(district, Membership.Role.PROGRAM_MANAGER))
    client = reauthenticated(client_for(manager), manager)
    program = ProgramFactory(draft=True, district=district, total_budget=Decimal("1000000"))
    data: dict[str, Any] = {
        "district": program.district_id,
        "name": program.name,
        "name_en": program.name_en,
        "kind": program.kind,
        "unit": program.unit,
        "total_budget": "1000000",
        "per_enterprise_cap": "300000",
        "base_rate": "0.30",
        "application_opens_on": "2026-01-01",
        "application_closes_on": "2026-12-31",
        "phase_steps-TOTAL_FORMS": "2",
        "phase_steps-INITIAL_FORMS": "0",
        "phase_steps-MIN_NUM_FORMS": "0",
        "phase_steps-MAX_NUM_FORMS": "1000",
        "phase_steps-0-starts_on": "2027-01-01",
        "phase_steps-0-rate": "0.20",
        "phase_steps-1-starts_on": "2029-01-01",
        "phase_steps-1-rate": "0",
        field: value,
    }
    response = client.post(reverse("admin:programs_program_change", args=[program.pk]), data)
    assert response.status_code < 500, (field, value)
    program.refresh_from_db()
    steps = PhaseStep.objects.filter(program=program).count()
    if response.status_code in (200, 400):
        # Refused as a whole: neither the program nor its schedule changed.
        assert program.total_budget == Decimal("1000000")
        assert steps == 0
        assert response.context["errors"] or response.context["adminform"].form.errors
    else:
        assert steps == 2
        assert isinstance(Program.objects.get(pk=program.pk).name, str)


def test_the_admin_form_of_another_district_is_not_reachable_for_bad_input_either() -> None:
    district, other = DistrictFactory(), DistrictFactory(code="520100", name="贵阳市")
    manager = with_mfa(official(district, Membership.Role.PROGRAM_MANAGER))
    client: Client = reauthenticated(client_for(manager), manager)
    program = ProgramFactory(draft=True, district=other)
    response = client.post(
        reverse("admin:programs_program_change", args=[program.pk]), {"total_budget": "1"}
    )
    assert response.status_code in (302, 403, 404)
    program.refresh_from_db()
    assert program.total_budget != Decimal("1")
