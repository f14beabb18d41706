"""The anomaly queue in the admin: scoped, readable, decided only by those allowed."""

from __future__ import annotations

import datetime

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from accounts.models import Membership, User
from audit.services import Actor
from oversight.flags import anomalies_detect
from oversight.models import AnomalyFlag, DetectorSettings
from tests.accounts.factories import DistrictFactory
from tests.audit.factories import admin_client
from tests.oversight.detector_helpers import at, charge, normal_month, quiet_day, setup, today
from tests.vouchers.factories import official
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:oversight_anomalyflag_changelist"


def staff(district, role: str) -> User:
    user = official(district, role)
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "X"})
    return user


@pytest.fixture
def flag() -> AnomalyFlag:
    voucher, platform = setup()
    normal_month(voucher, platform)
    # On a day without other usage, so the day's cover is the spike's alone.
    charge(voucher, platform, at(quiet_day(), hour=11), billed="15000.00")
    anomalies_detect(day=today() - datetime.timedelta(days=1), days=30, actor=Actor.system("tests"))
    return AnomalyFlag.objects.get(detector=AnomalyFlag.Detector.USAGE_SPIKE)


def decide_url(flag: AnomalyFlag) -> str:
    return reverse("admin:oversight_anomalyflag_decide", args=[flag.pk])


def change_url(flag: AnomalyFlag) -> str:
    return reverse("admin:oversight_anomalyflag_change", args=[flag.pk])


def test_an_auditor_sees_the_queue_and_the_evidence_but_no_decision(flag) -> None:
    client = admin_client(staff(flag.district, Membership.Role.AUDITOR))
    listing = client.get(reverse(CHANGELIST), {"status__exact": "open"})
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [flag]
    page = client.get(change_url(flag))
    assert page.status_code == 200
    html = page.content.decode()
    assert "¥4,500.00" in html  # the spike day covered 30 % of ¥15,000, with its unit
    assert decide_url(flag) not in html
    assert client.get(decide_url(flag)).status_code == 403
    response = client.post(decide_url(flag), {"decision": "dismiss", "note": "no"})
    assert response.status_code == 403
    flag.refresh_from_db()
    assert flag.status == AnomalyFlag.Status.OPEN


def test_an_official_of_another_district_sees_nothing(flag) -> None:
    client = admin_client(staff(DistrictFactory(code="520100"), Membership.Role.PROGRAM_MANAGER))
    listing = client.get(reverse(CHANGELIST))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == []
    assert client.get(change_url(flag)).status_code in (302, 404)
    assert client.get(decide_url(flag)).status_code == 404
    assert client.post(decide_url(flag), {"decision": "dismiss", "note": "x"}).status_code == 404


def test_a_program_manager_confirms_and_suspends_through_the_admin(flag) -> None:
    client = admin_client(staff(flag.district, Membership.Role.PROGRAM_MANAGER))
    assert decide_url(flag) in client.get(change_url(flag)).content.decode()
    form = client.get(decide_url(flag))
    assert form.status_code == 200
    assert [c[0] for c in form.context["form"].fields["action"].choices] == [
        "none",
        "suspend",
        "clawback",
    ]
    missing_note = client.post(decide_url(flag), {"decision": "confirm", "action": "suspend"})
    assert missing_note.status_code == 200
    assert missing_note.context["form"].errors["note"]
    response = client.post(
        decide_url(flag), {"decision": "confirm", "action": "suspend", "note": "Fake invoices"}
    )
    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.status == AnomalyFlag.Status.CONFIRMED
    assert flag.voucher.status == Voucher.Status.SUSPENDED
    # Decided: no more decision offered.
    assert decide_url(flag) not in client.get(change_url(flag)).content.decode()
    assert client.get(decide_url(flag)).status_code == 302


def test_a_reviewer_is_offered_no_voucher_action(flag) -> None:
    client = admin_client(staff(flag.district, Membership.Role.REVIEWER))
    form = client.get(decide_url(flag))
    assert [c[0] for c in form.context["form"].fields["action"].choices] == ["none"]
    response = client.post(
        decide_url(flag), {"decision": "confirm", "action": "suspend", "note": "x"}
    )
    assert response.status_code == 200  # "suspend" is not a valid choice for them
    response = client.post(decide_url(flag), {"decision": "dismiss", "note": "Explained"})
    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.status == AnomalyFlag.Status.DISMISSED


def test_the_queue_filters_by_detector_and_program(flag) -> None:
    client = admin_client(staff(flag.district, Membership.Role.AUDITOR))
    by_detector = client.get(reverse(CHANGELIST), {"detector__exact": "night_usage"})
    assert list(by_detector.context["cl"].result_list) == []
    by_program = client.get(reverse(CHANGELIST), {"program__id__exact": flag.program_id})
    assert list(by_program.context["cl"].result_list) == [flag]


def test_a_program_manager_edits_the_thresholds_and_an_auditor_only_reads_them(flag) -> None:
    manager = admin_client(staff(flag.district, Membership.Role.PROGRAM_MANAGER))
    add = reverse("admin:oversight_detectorsettings_add")
    data = {
        "program": flag.program_id,
        "spike_multiplier": "8",
        "spike_trailing_days": "28",
        "spike_min_active_days": "5",
        "per_head_daily_cny": "5000",
        "per_head_daily_points": "20000000",
        "round_unit_cny": "1000",
        "round_unit_points": "1000000",
        "round_min_bills": "5",
        "round_share": "0.8",
        "even_min_intervals": "4",
        "night_start_hour": "1",
        "night_end_hour": "5",
        "night_min_redemptions": "3",
        "price_tolerance": "0.02",
        "points_tolerance": "0.02",
        "drain_days": "7",
        "drain_share": "0.5",
        "rejected_jump_multiple": "3",
        "rejected_jump_min_share": "0.05",
        "claim_near_margin": "0.05",
        "claim_near_min_claims": "2",
        "price_rise_ratio": "1.3",
        "supplier_shared_min_buyers": "3",
    }
    assert manager.post(add, data).status_code == 302
    assert DetectorSettings.objects.get(program=flag.program).spike_multiplier == 8
    auditor = admin_client(staff(flag.district, Membership.Role.AUDITOR))
    assert auditor.get(add).status_code == 403


def test_the_queue_lists_flags_in_a_constant_number_of_queries(
    flag, django_assert_max_num_queries
) -> None:
    client = admin_client(staff(flag.district, Membership.Role.AUDITOR))
    client.get(reverse(CHANGELIST))  # warm the session and the scope
    with django_assert_max_num_queries(14) as one:
        client.get(reverse(CHANGELIST))
    for i in range(5):
        AnomalyFlag.objects.create(
            detector=AnomalyFlag.Detector.ROUND_BILLS,
            district=flag.district,
            program=flag.program,
            enterprise=flag.enterprise,
            voucher=flag.voucher,
            subject=f"voucher:{flag.voucher_id}/copy:{i}",
            period_start=flag.period_start,
            period_end=flag.period_end,
            score=1,
            evidence={"measured": "1", "threshold": "0.8", "unit": "CNY"},
        )
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(reverse(CHANGELIST))
    assert len(response.context["cl"].result_list) == 6


def test_the_moved_models_events_keep_their_object_type_and_their_timeline(flag) -> None:
    """AnomalyFlag and DetectorSettings moved from audit to oversight; their events
    still say audit.anomalyflag / audit.detectorsettings (the hash-chained record
    and its readers use that string), and the timeline finds them."""
    from audit.models import AuditEvent
    from audit.object_types import model_for as model_of_object_type
    from audit.object_types import object_type_of

    assert object_type_of(flag) == "audit.anomalyflag"
    assert object_type_of(DetectorSettings) == "audit.detectorsettings"
    assert model_of_object_type("audit.anomalyflag") is AnomalyFlag
    assert model_of_object_type("audit.detectorsettings") is DetectorSettings
    events = AuditEvent.objects.filter(object_id=str(flag.pk), event_type="anomaly.flagged")
    assert list(events.values_list("object_type", flat=True)) == ["audit.anomalyflag"]
    client = admin_client(staff(flag.district, Membership.Role.AUDITOR))
    response = client.get(f"/admin/audit/auditevent/timeline/audit/anomalyflag/{flag.pk}/")
    assert response.status_code == 200
    # The event reads by its label (the key stays in the database).
    assert "Anomaly flagged" in response.content.decode()
    assert change_url(flag) in response.content.decode()  # under /admin/oversight/
