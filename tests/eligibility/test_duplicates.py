"""Duplicate checks flagged beside the rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import District
from applications.models import Application
from applications.selectors import application_duplicate_flags
from audit.services import Actor
from eligibility.duplicates import locality_flags, shared_contact_flags
from tests.accounts.factories import EnterpriseFactory
from tests.applications.factories import application
from tests.programs.factories import open_program
from vouchers.services import voucher_issue

pytestmark = pytest.mark.django_db


def test_shared_legal_representative_and_phone_are_flagged() -> None:
    one = EnterpriseFactory(legal_representative="张三", contact_phone="027-1234-5678")
    two = EnterpriseFactory(legal_representative="张三", contact_phone="(027) 1234 5678")
    three = EnterpriseFactory(legal_representative="李四")
    codes = [flag.code for flag in shared_contact_flags(one, [one, two, three])]
    assert codes == ["shared_legal_representative", "shared_contact_phone"]


def test_registration_outside_the_district_is_flagged_unless_nationwide(jianghan: Any) -> None:
    outside = EnterpriseFactory(division="420106")
    assert [f.code for f in locality_flags(outside, jianghan, nationwide=False)] == [
        "outside_district"
    ]
    assert locality_flags(outside, jianghan, nationwide=True) == []
    inside = EnterpriseFactory(division="420103")
    assert locality_flags(inside, jianghan, nationwide=False) == []


def test_the_reviewer_sees_a_grant_of_the_same_kind_from_another_district(
    jianghan: Any, guiyang: Any
) -> None:
    enterprise = EnterpriseFactory(division="420103")
    guiyang_program = open_program(district=guiyang, cross_region=True)
    # A voucher of the same kind from Guiyang this year (issued in bulk: the
    # check looks at vouchers, however they were issued).
    voucher_issue(
        actor=Actor.system("test"),
        program=guiyang_program,
        enterprise=enterprise,
        amount=Decimal("10000"),
        from_reservation=False,
    )
    jianghan_program = open_program(district=jianghan)
    pending = application(enterprise, jianghan_program, status=Application.Status.SUBMITTED)
    flags = application_duplicate_flags(application=pending)
    assert [f.code for f in flags] == ["funded_elsewhere"]
    assert "Guiyang" in flags[0].message or "贵阳" in flags[0].message


def test_the_reviewer_sees_co_applicants_sharing_a_representative(jianghan: Any) -> None:
    program = open_program(district=jianghan)
    one = EnterpriseFactory(division="420103", legal_representative="王五")
    two = EnterpriseFactory(division="420103", legal_representative="王五")
    first = application(one, program, status=Application.Status.SUBMITTED)
    application(two, program, status=Application.Status.SUBMITTED)
    assert [f.code for f in application_duplicate_flags(application=first)] == [
        "shared_legal_representative"
    ]
    assert District.objects.count() >= 1


def test_the_eligibility_fact_counts_vouchers_of_the_same_kind_this_year(
    jianghan: Any, guiyang: Any
) -> None:
    from eligibility.facts import Context
    from vouchers.facts import funded_this_year

    enterprise = EnterpriseFactory(division="420103")
    guiyang_program = open_program(district=guiyang, cross_region=True)
    jianghan_program = open_program(district=jianghan)
    context = Context(
        on=timezone.localdate(),
        program_kind=jianghan_program.kind,
        program_id=jianghan_program.pk,
    )
    assert funded_this_year(enterprise, context) is False
    voucher_issue(
        actor=Actor.system("test"),
        program=guiyang_program,
        enterprise=enterprise,
        amount=Decimal("10000"),
        from_reservation=False,
    )
    assert funded_this_year(enterprise, context) is True
