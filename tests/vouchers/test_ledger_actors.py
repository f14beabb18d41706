"""The ledger an enterprise reads names who acted by role and organisation
(or the platform's name), never an official's login e-mail or a key id."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Membership, User
from audit.services import Actor
from tests.accounts.factories import ComputePlatformFactory, EnterpriseFactory, UserFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import member, official, platform_actor
from vouchers.models import Voucher
from vouchers.services import voucher_issue, voucher_redeem

pytestmark = pytest.mark.django_db

REVIEWER_EMAIL = "li.reviewer@jianghan.gov.example"


@pytest.fixture
def voucher() -> Voucher:
    platform = ComputePlatformFactory(
        name="武汉人工智能计算中心", name_en="Wuhan AI Computing Center"
    )
    program = ProgramFactory()
    bind(program, platform)
    reviewer = official(program.district, Membership.Role.REVIEWER, email=REVIEWER_EMAIL)
    voucher = voucher_issue(
        actor=Actor.for_user(reviewer),
        program=program,
        enterprise=EnterpriseFactory(),
        amount=Decimal("5000"),
        from_reservation=False,
    )
    voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference="inv-1",
        occurred_at=timezone.now(),
        billed_amount=Decimal("100.00"),
    )
    return voucher


def client_of(user: User, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    return client


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_ledger_names_the_reviewer_by_role_and_district_and_the_platform_by_name(
    voucher, language
) -> None:
    district = voucher.program.district
    page = client_of(member(voucher.enterprise), language).get(
        reverse("voucher_detail", args=[voucher.pk])
    )
    html = page.content.decode()
    assert REVIEWER_EMAIL not in html
    if language == "en":
        assert f"Reviewer, {district.name_en}" in html
        assert "<td>Wuhan AI Computing Center</td>" in html
    else:
        assert f"{district.name}审核员" in html
        assert "<td>武汉人工智能计算中心</td>" in html
    for entry in voucher.ledger.all():
        assert entry.actor_label not in html


def test_the_ledger_csv_names_them_the_same_way(voucher) -> None:
    response = client_of(member(voucher.enterprise), "en").get(
        reverse("voucher_ledger_csv", args=[voucher.pk])
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["caused_by"] for row in rows] == [
        f"Reviewer, {voucher.program.district.name_en}",
        "Wuhan AI Computing Center",
    ]
    assert REVIEWER_EMAIL not in response.content.decode("utf-8-sig")


def test_a_superuser_and_a_system_task_are_named_without_their_login(voucher) -> None:
    from vouchers.selectors import ledger_actors

    root = UserFactory(is_superuser=True, email="root@platform.example")
    entries = list(voucher.ledger.all())
    entries[0].actor_user = root
    entries[0].actor_user_id = root.pk
    entries[1].actor_kind = "system"
    with translation.override("en"):
        names = ledger_actors(entries, voucher)
    assert names[entries[0].pk] == "Platform administrator"
    assert names[entries[1].pk] == f"Automatic, {voucher.program.district.display_name}"


def test_the_admin_keeps_the_e_mail(voucher) -> None:
    assert voucher.ledger.filter(actor_label=REVIEWER_EMAIL).exists()
