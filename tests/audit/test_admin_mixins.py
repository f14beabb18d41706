"""Edits through the admin are recorded with before and after values."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Enterprise, Membership
from audit import events
from audit.models import AuditEvent
from tests.accounts.factories import (
    ComputePlatformFactory,
    DistrictFactory,
    EnterpriseFactory,
    UserFactory,
)
from tests.audit.factories import admin_client, official, superuser

pytestmark = pytest.mark.django_db


def _enterprise_post(enterprise: Enterprise, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": enterprise.name,
        "uscc": enterprise.uscc,
        "status": enterprise.status,
        "industry": enterprise.industry,
        "founded_on": enterprise.founded_on.isoformat(),
        "headcount": enterprise.headcount,
        "prior_year_revenue": str(enterprise.prior_year_revenue),
        "local_tax_paid": str(enterprise.local_tax_paid),
        "is_one_person_company": "",
        "legal_representative": enterprise.legal_representative,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
        "contact_email": enterprise.contact_email,
        "address": enterprise.address,
    }
    if enterprise.is_one_person_company:
        data["is_one_person_company"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_a_program_manager_changing_an_enterprise_records_only_the_changed_fields() -> None:
    district = DistrictFactory(code="420103")
    enterprise = EnterpriseFactory(district=district, headcount=12)
    manager = official(district, Membership.Role.PROGRAM_MANAGER)
    client = admin_client(manager, REMOTE_ADDR="192.0.2.7")
    url = reverse("admin:accounts_enterprise_change", args=[enterprise.pk])
    response = client.post(url, _enterprise_post(enterprise, headcount=30, address="江汉路1号"))
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(event_type=events.ADMIN_CHANGE)
    assert event.object_type == "accounts.enterprise" and event.object_id == str(enterprise.pk)
    assert event.before == {"headcount": 12, "address": ""}
    assert event.after == {"headcount": 30, "address": "江汉路1号"}
    assert event.actor_user == manager and event.source_ip == "192.0.2.7"
    assert event.enterprise_id == enterprise.pk


def test_a_refused_edit_records_nothing() -> None:
    district = DistrictFactory(code="420103")
    enterprise = EnterpriseFactory(district=district)
    manager = official(district, Membership.Role.PROGRAM_MANAGER)
    client = admin_client(manager)
    url = reverse("admin:accounts_enterprise_change", args=[enterprise.pk])
    response = client.post(url, _enterprise_post(enterprise, headcount="many"))
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(event_type__startswith="admin.").exists()


def test_adding_a_platform_records_every_field_and_the_districts_it_serves() -> None:
    district = DistrictFactory(code="420103")
    admin_user = superuser()
    client = admin_client(admin_user)
    response = client.post(
        reverse("admin:accounts_computeplatform_add"),
        {
            "slug": "jh-cloud",
            "name": "江汉云",
            "name_en": "Jianghan Cloud",
            "operator": "江汉云计算有限公司",
            "districts_served": [district.pk],
            "status": "active",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event = AuditEvent.objects.get(event_type=events.ADMIN_ADD)
    assert event.before is None
    assert event.after["slug"] == "jh-cloud"
    assert event.after["districts_served"] == [district.pk]
    assert event.platform_id == event.after["id"]


def test_deleting_records_the_values_the_row_had() -> None:
    district = DistrictFactory(code="420103")
    enterprise = EnterpriseFactory(district=district, name="将被删除的公司")
    pk = enterprise.pk
    client = admin_client(superuser())
    response = client.post(reverse("admin:accounts_enterprise_delete", args=[pk]), {"post": "yes"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(event_type=events.ADMIN_DELETE)
    assert event.object_id == str(pk) and event.object_repr == "将被删除的公司"
    assert event.before["uscc"] == enterprise.uscc and event.after is None
    assert event.enterprise_id == pk


def test_the_bulk_delete_action_records_each_row() -> None:
    district = DistrictFactory(code="420103")
    platforms = [ComputePlatformFactory(), ComputePlatformFactory()]
    client = admin_client(superuser())
    response = client.post(
        reverse("admin:accounts_computeplatform_changelist"),
        {"action": "delete_selected", "_selected_action": [p.pk for p in platforms], "post": "yes"},
    )
    assert response.status_code == 302
    deleted = AuditEvent.objects.filter(event_type=events.ADMIN_DELETE)
    assert sorted(deleted.values_list("object_id", flat=True)) == sorted(
        str(p.pk) for p in platforms
    )
    assert district


def test_memberships_added_inline_on_a_user_are_recorded_and_passwords_never_are() -> None:
    district = DistrictFactory(code="420103")
    person = UserFactory(email="new.official@example.test", preferred_language="en")
    person.set_password("old-secret-1")
    person.save()
    client = admin_client(superuser())
    response = client.post(
        reverse("admin:accounts_user_change", args=[person.pk]),
        {
            "email": person.email,
            "full_name": "New Official",
            "preferred_language": "en",
            "is_active": "on",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-role": "auditor",
            "memberships-0-district": str(district.pk),
            "memberships-0-user": str(person.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    added = AuditEvent.objects.get(event_type=events.ADMIN_ADD, object_type="accounts.membership")
    assert added.after["role"] == "auditor" and added.district_id == district.pk
    changed = AuditEvent.objects.get(event_type=events.ADMIN_CHANGE, object_type="accounts.user")
    assert changed.after == {"full_name": "New Official"}
    # The user is now an auditor of the district: the event is filed there.
    assert changed.district_id == district.pk
    for event in AuditEvent.objects.all():
        assert "old-secret" not in str(event.before) + str(event.after)
        assert "pbkdf2" not in str(event.before) + str(event.after)


def test_change_pages_link_to_the_timeline_for_officials() -> None:
    district = DistrictFactory(code="420103")
    enterprise = EnterpriseFactory(district=district)
    client = admin_client(official(district, Membership.Role.AUDITOR))
    response = client.get(reverse("admin:accounts_enterprise_change", args=[enterprise.pk]))
    timeline = reverse(
        "admin:audit_auditevent_timeline", args=["accounts", "enterprise", str(enterprise.pk)]
    )
    assert timeline in response.content.decode()
