"""The portal's notification centre: a member's own notifications, newest
first, in their language and in Shanghai time; the unread count in the
header; marking one or all as read."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from notices.models import Notification
from notices.services import notify
from tests.accounts.factories import EnterpriseFactory
from tests.vouchers.factories import client_for, frozen, member, shanghai

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
CENTRE = "/notifications/"


def _voucher_issued(enterprise: Any, code: str = "ABCDEF-123456-GHJKMN") -> list[Notification]:
    return notify(
        enterprise=enterprise,
        kind=Kind.VOUCHER_ISSUED,
        params={
            "voucher_id": 1,
            "code": code,
            "program": "江汉区算力券",
            "program_en": "Jianghan compute voucher",
            "amount": "1000.00",
            "unit": "CNY",
            "valid_from": "2026-06-01",
            "until": "2026-12-31",
        },
        url="/vouchers/1/",
    )


def _application_returned(enterprise: Any) -> list[Notification]:
    return notify(
        enterprise=enterprise,
        kind=Kind.APPLICATION_RETURNED,
        params={"number": 7, "program": "江汉区算力券", "program_en": "Jianghan compute voucher"},
        url="/applications/7/",
    )


def test_the_centre_lists_my_notifications_newest_first_in_shanghai_time() -> None:
    enterprise = EnterpriseFactory()
    reader = member(enterprise)
    with frozen(shanghai(2026, 6, 1, 0, 30)):  # 16:30 UTC the day before
        _voucher_issued(enterprise)
    with frozen(shanghai(2026, 6, 2, 9, 15)):
        _application_returned(enterprise)
    page = client_for(reader).get(CENTRE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    returned = page.index("Application #7 to Jianghan compute voucher was returned for changes.")
    issued = page.index(
        "Voucher ABCDEF-123456-GHJKMN of Jianghan compute voucher is issued for ¥1,000.00."
    )
    assert returned < issued
    assert "1 Jun 2026, 00:30" in page and "2 Jun 2026, 09:15" in page
    assert 'href="/vouchers/1/"' not in page  # unread: opened through "mark as read"
    assert "2 unread" in page


def test_the_centre_reads_in_chinese() -> None:
    enterprise = EnterpriseFactory()
    reader = member(enterprise)
    _voucher_issued(enterprise)
    client = client_for(reader)
    client.cookies["django_language"] = "zh-hans"
    page = client.get(CENTRE).content.decode()
    assert "券 ABCDEF-123456-GHJKMN（江汉区算力券）已发放，面值 ¥1,000.00。" in page
    assert "Jianghan compute voucher" not in page
    assert "1 条未读" in page and "全部标为已读" in page


def test_the_header_counts_my_unread_notifications() -> None:
    enterprise = EnterpriseFactory()
    reader = member(enterprise)
    _voucher_issued(enterprise)
    _application_returned(enterprise)
    page = client_for(reader).get(reverse("portal"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<span class="nav-count" aria-label="2 unread">2</span>' in page


def test_marking_one_as_read_opens_its_object_and_lowers_the_count() -> None:
    enterprise = EnterpriseFactory()
    reader, colleague = member(enterprise), member(enterprise)
    rows = _voucher_issued(enterprise) + _application_returned(enterprise)
    mine = next(r for r in rows if r.recipient == reader and r.kind == Kind.VOUCHER_ISSUED)
    client = client_for(reader)
    response = client.post(reverse("notification_read", args=[mine.pk]), {"open": "1"})
    assert response.status_code == 302 and response["Location"] == "/vouchers/1/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    page = client.get(CENTRE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 unread" in page and 'href="/vouchers/1/"' in page
    # My colleague's copy of the same event is still unread for them.
    assert Notification.objects.get(recipient=colleague, kind=Kind.VOUCHER_ISSUED).read_at is None


def test_marking_all_as_read_marks_only_mine() -> None:
    enterprise = EnterpriseFactory()
    reader, colleague = member(enterprise), member(enterprise)
    _voucher_issued(enterprise)
    _application_returned(enterprise)
    response = client_for(reader).post(reverse("notification_read_all"))
    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=reader, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=colleague, read_at__isnull=True).count() == 2


def test_nobody_else_reads_or_marks_my_notifications() -> None:
    enterprise = EnterpriseFactory()
    reader = member(enterprise)
    stranger = member(EnterpriseFactory())
    mine = next(r for r in _voucher_issued(enterprise) if r.recipient == reader)
    client = client_for(stranger)
    assert "ABCDEF-123456-GHJKMN" not in client.get(CENTRE).content.decode()
    assert client.post(reverse("notification_read", args=[mine.pk])).status_code == 404
    client.post(reverse("notification_read_all"))
    mine.refresh_from_db()
    assert mine.read_at is None


def test_a_former_member_no_longer_sees_the_enterprises_notifications() -> None:
    enterprise = EnterpriseFactory()
    reader = member(enterprise)
    _voucher_issued(enterprise)
    reader.memberships.all().delete()
    client = client_for(reader)
    assert "ABCDEF-123456-GHJKMN" not in client.get(CENTRE).content.decode()


def test_the_centre_reads_its_page_in_a_fixed_number_of_queries(
    django_assert_max_num_queries: Any,
) -> None:
    enterprise = EnterpriseFactory()
    reader = member(enterprise)
    for n in range(12):
        _voucher_issued(enterprise, code=f"ABCDEF-123456-{n:06d}")
    client = client_for(reader)
    client.get(CENTRE)  # warm the session
    with django_assert_max_num_queries(12):
        response = client.get(CENTRE)
    assert response.content.decode().count("ABCDEF-123456-") == 12
