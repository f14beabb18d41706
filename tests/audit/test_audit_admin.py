"""The audit event list, its CSV export and each object's timeline, scoped by district."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from audit import events
from audit.models import AuditEvent
from audit.services import Actor, audit_record
from tests.accounts.factories import (
    ComputePlatformFactory,
    DistrictFactory,
    EnterpriseFactory,
    UserFactory,
)
from tests.audit.factories import admin_client, official, superuser
from tests.audit.helpers import tamper

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_districts() -> dict[str, object]:
    jianghan = DistrictFactory(code="420103", name="江汉区")
    guiyang = DistrictFactory(code="520100", name="贵阳市")
    ours = EnterpriseFactory(district=jianghan, name="江汉智算")
    theirs = EnterpriseFactory(district=guiyang, name="贵阳数据")
    for enterprise, district in ((ours, jianghan), (theirs, guiyang)):
        audit_record(
            actor=Actor.system("seed"),
            event_type=events.ENTERPRISE_UPDATED,
            obj=enterprise,
            before={"headcount": 10},
            after={"headcount": 11},
            district_id=district.pk,
        )
        # An enterprise's own edit, filed under no district.
        audit_record(
            actor=Actor(kind="user", label=f"owner@{enterprise.pk}.test"),
            event_type=events.ENTERPRISE_UPDATED,
            obj=enterprise,
            after={"address": "新地址"},
            enterprise_id=enterprise.pk,
        )
    return {"jianghan": jianghan, "guiyang": guiyang, "ours": ours, "theirs": theirs}


def _timeline(obj: object) -> str:
    return reverse(
        "admin:audit_auditevent_timeline",
        args=[obj._meta.app_label, obj._meta.model_name, str(obj.pk)],  # type: ignore[attr-defined]
    )


def test_an_auditor_reads_the_timeline_of_an_enterprise_in_their_district(
    two_districts: dict,
) -> None:
    client = admin_client(official(two_districts["jianghan"], Membership.Role.AUDITOR))
    response = client.get(_timeline(two_districts["ours"]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "江汉智算" in page and "新地址" in page
    assert response.context["rows"][0]["changes"] == [("headcount", "10", "11")]
    assert len(response.context["rows"]) == 2


def test_an_auditor_of_another_district_sees_nothing_of_it(two_districts: dict) -> None:
    client = admin_client(official(two_districts["guiyang"], Membership.Role.AUDITOR))
    assert client.get(_timeline(two_districts["ours"])).status_code == 404
    listing = client.get(reverse("admin:audit_auditevent_changelist"))
    shown = {
        e.object_id
        for e in listing.context["cl"].result_list
        if e.event_type == events.ENTERPRISE_UPDATED
    }
    assert shown == {str(two_districts["theirs"].pk)}


def test_a_reviewer_is_an_official_too_and_may_read_the_timeline(two_districts: dict) -> None:
    client = admin_client(official(two_districts["jianghan"], Membership.Role.REVIEWER))
    assert client.get(_timeline(two_districts["ours"])).status_code == 200


def test_enterprise_members_and_strangers_cannot_open_the_log(two_districts: dict) -> None:
    member = UserFactory(preferred_language="en")
    Membership.objects.create(
        user=member, role=Membership.Role.ENTERPRISE_ADMIN, enterprise=two_districts["ours"]
    )
    client = admin_client(member)
    response = client.get(_timeline(two_districts["ours"]))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(reverse("admin:audit_auditevent_export")).status_code == 302


def test_a_deleted_object_keeps_its_timeline_for_the_officials_who_could_see_it(
    two_districts: dict,
) -> None:
    client = admin_client(official(two_districts["jianghan"], Membership.Role.AUDITOR))
    url = reverse("admin:audit_auditevent_timeline", args=["accounts", "enterprise", "999999"])
    audit_record(
        actor=Actor.system("t"),
        event_type=events.ADMIN_DELETE,
        obj=None,
        object_type="accounts.enterprise",
        object_id="999999",
        object_repr="已删除公司",
        district_id=two_districts["jianghan"].pk,
    )
    assert client.get(url).status_code == 200
    assert (
        client.get(
            reverse("admin:audit_auditevent_timeline", args=["accounts", "enterprise", "888888"])
        ).status_code
        == 404
    )
    assert (
        client.get(
            reverse("admin:audit_auditevent_timeline", args=["nope", "thing", "1"])
        ).status_code
        == 404
    )


def test_a_platform_timeline_shows_its_events_to_districts_it_serves(two_districts: dict) -> None:
    platform = ComputePlatformFactory()
    platform.districts_served.add(two_districts["jianghan"])
    audit_record(
        actor=Actor.system("t"),
        event_type="platform.key_registered",
        obj=platform,
        platform_id=platform.pk,
    )
    ours = admin_client(official(two_districts["jianghan"]))
    theirs = admin_client(official(two_districts["guiyang"]))
    assert len(ours.get(_timeline(platform)).context["rows"]) == 1
    assert theirs.get(_timeline(platform)).status_code == 404


def test_the_list_filters_by_type_date_range_and_actor(two_districts: dict) -> None:
    client = admin_client(superuser())
    url = reverse("admin:audit_auditevent_changelist")
    by_actor = client.get(url, {"actor": f"owner@{two_districts['ours'].pk}"})
    assert [e.actor_label for e in by_actor.context["cl"].result_list] == [
        f"owner@{two_districts['ours'].pk}.test"
    ]
    today = timezone.localdate()
    in_range = client.get(
        url,
        {
            "occurred_from": today.isoformat(),
            "occurred_to": today.isoformat(),
            "event_type": events.ENTERPRISE_UPDATED,
        },
    )
    assert in_range.context["cl"].result_count == 4
    yesterday = today - datetime.timedelta(days=1)
    assert client.get(url, {"occurred_to": yesterday.isoformat()}).context["cl"].result_count == 0
    by_type = client.get(url, {"event_type": events.ENTERPRISE_UPDATED})
    assert by_type.context["cl"].result_count == 4


def test_a_bad_date_is_reported_beside_the_filter_and_the_input_kept(two_districts: dict) -> None:
    client = admin_client(superuser())
    response = client.get(
        reverse("admin:audit_auditevent_changelist"), {"occurred_from": "2026-13-45"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "is not a date" in page and 'value="2026-13-45"' in page


def test_the_csv_export_holds_the_filtered_range_and_is_itself_audited(two_districts: dict) -> None:
    auditor = official(two_districts["jianghan"], Membership.Role.AUDITOR)
    client = admin_client(auditor)
    response = client.get(
        reverse("admin:audit_auditevent_export"),
        {"q": two_districts["ours"].name, "event_type": events.ENTERPRISE_UPDATED},
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["object_id"] for r in rows} == {str(two_districts["ours"].pk)}
    assert all(r["district_id"] in ("", str(two_districts["jianghan"].pk)) for r in rows)
    assert "新地址" in text
    export = AuditEvent.objects.get(event_type=events.AUDIT_EXPORTED)
    assert export.actor_user == auditor
    assert export.after["rows"] == 2
    assert export.district_id == two_districts["jianghan"].pk


def test_the_csv_export_neutralises_spreadsheet_formulas(two_districts: dict) -> None:
    audit_record(
        actor=Actor.system("t"),
        event_type="x",
        obj=None,
        object_type="tests.thing",
        object_id="1",
        note='=HYPERLINK("http://example.invalid")',
    )
    client = admin_client(superuser())
    response = client.get(reverse("admin:audit_auditevent_export"), {"event_type": "x"})
    text = b"".join(response.streaming_content).decode("utf-8")
    assert "'=HYPERLINK" in text


def test_nobody_adds_changes_or_deletes_events_in_the_admin(two_districts: dict) -> None:
    client = admin_client(superuser())
    event = AuditEvent.objects.first()
    assert event is not None
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert (
        client.post(
            reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    page = client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert tamper  # raw SQL is the only way left, and verify_audit catches it
