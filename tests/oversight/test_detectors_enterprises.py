"""Detectors on vouchers and enterprises: expiry drain, shared contacts,
several districts, related parties."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from oversight.detectors import (
    detect_expiry_drain,
    detect_multi_district_funding,
    detect_related_parties,
    detect_shared_contacts,
    related_party_reason,
)
from programs.models import Program
from tests.accounts.factories import ComputePlatformFactory
from tests.oversight.detector_helpers import at, charge, enterprise, last_days, normal_month, setup
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def expiring_in(voucher: Voucher, days: int) -> Voucher:
    """Move the end of validity close (the tests cannot wait a year)."""
    Voucher.objects.filter(pk=voucher.pk).update(
        expires_at=timezone.now() + datetime.timedelta(days=days)
    )
    voucher.refresh_from_db()
    return voucher


# --- (g) drain before expiry --------------------------------------------------------


def test_a_balance_drained_in_the_last_week_is_flagged() -> None:
    voucher, platform = setup(face="100000.00")
    voucher = expiring_in(voucher, 3)
    charge(voucher, platform, at(20), billed="1000.00")
    rows = [charge(voucher, platform, at(d), billed="80000.00") for d in (3, 2, 1)]
    [flag] = detect_expiry_drain(last_days(1))
    assert flag.voucher_id == voucher.pk
    assert flag.evidence["drained"] == "72000"
    assert flag.evidence["redemption_ids"] == [r.pk for r in rows]
    assert flag.score == Decimal("0.72")


def test_steady_use_before_expiry_is_not_a_drain() -> None:
    voucher, platform = setup(face="100000.00")
    voucher = expiring_in(voucher, 3)
    normal_month(voucher, platform)
    assert detect_expiry_drain(last_days(1)) == []


def test_heavy_use_far_from_expiry_is_not_a_drain() -> None:
    voucher, platform = setup(face="100000.00")
    for d in (3, 2, 1):
        charge(voucher, platform, at(d), billed="80000.00")
    assert detect_expiry_drain(last_days(1)) == []


# --- (h) shared contacts --------------------------------------------------------------


def test_funded_enterprises_with_the_same_legal_representative_are_flagged() -> None:
    first, _ = setup(ent=enterprise(legal_representative="陈立华"))
    second, _ = setup(ent=enterprise(legal_representative="陈立华"), district_code="420100")
    flags = detect_shared_contacts(last_days(1))
    assert {f.district_id for f in flags} == {
        first.program.district_id,
        second.program.district_id,
    }
    assert all(f.subject == "legal_representative:陈立华" for f in flags)
    listed = {e["uscc"] for e in flags[0].evidence["enterprises"]}
    assert listed == {first.enterprise.uscc, second.enterprise.uscc}
    assert "陈立华" in flags[0].evidence["messages"][0]


def test_the_same_phone_written_differently_and_the_same_address_are_shared() -> None:
    setup(ent=enterprise(contact_phone="027-8561-2201", address="武汉市 江汉区建设大道568号"))
    setup(ent=enterprise(contact_phone="02785612201", address="武汉市江汉区建设大道568号"))
    shared = {f.evidence["shared"] for f in detect_shared_contacts(last_days(1))}
    assert shared == {"contact_phone", "address"}


def test_enterprises_with_their_own_contacts_are_not_flagged() -> None:
    setup()
    setup()
    assert detect_shared_contacts(last_days(1)) == []


# --- (i) several districts ---------------------------------------------------------------


def test_the_same_uscc_funded_by_two_districts_for_compute_is_flagged_in_both() -> None:
    ent = enterprise()
    jianghan, _ = setup(ent=ent, district_code="420103")
    wuhan, _ = setup(ent=ent, district_code="420100")
    flags = detect_multi_district_funding(last_days(1))
    assert {(f.district_id, f.voucher_id) for f in flags} == {
        (jianghan.program.district_id, jianghan.pk),
        (wuhan.program.district_id, wuhan.pk),
    }
    assert all(f.subject == f"uscc:{ent.uscc}/kind:compute" for f in flags)
    assert all(len(f.evidence["messages"]) == 1 for f in flags)


def test_different_kinds_from_two_districts_are_not_flagged() -> None:
    ent = enterprise()
    setup(ent=ent, district_code="420103", kind=Program.Kind.COMPUTE)
    setup(ent=ent, district_code="420100", kind=Program.Kind.MODEL)
    assert detect_multi_district_funding(last_days(1)) == []


# --- (j) related parties -------------------------------------------------------------------


def test_a_platform_operated_by_the_enterprise_itself_is_a_related_party() -> None:
    ent = enterprise(name="武汉江汉词元科技有限公司")
    platform = ComputePlatformFactory(operator="武汉江汉词元科技有限公司")
    voucher, _ = setup(ent=ent, platform=platform)
    row = charge(voucher, platform, at(4), billed="3000.00")
    [flag] = detect_related_parties(last_days(30))
    assert flag.evidence["rule"] == "operator_name"
    assert flag.evidence["redemption_ids"] == [row.pk]
    assert flag.platform_id == platform.pk


def test_an_operator_sharing_the_legal_representative_is_a_related_party() -> None:
    operator = enterprise(legal_representative="刘备")
    platform = ComputePlatformFactory(operator="某某运营公司", operator_uscc=operator.uscc)
    voucher, _ = setup(ent=enterprise(legal_representative="刘备"), platform=platform)
    assert related_party_reason(platform, voucher.enterprise) == "shared_legal_representative"
    platform.operator_uscc = voucher.enterprise.uscc
    assert related_party_reason(platform, voucher.enterprise) == "operator_uscc"


def test_an_unrelated_platform_is_not_flagged() -> None:
    voucher, platform = setup()
    normal_month(voucher, platform)
    assert detect_related_parties(last_days(30)) == []
