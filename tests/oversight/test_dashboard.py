"""The officials' dashboard: who may not see it, what it shows, and its query count."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from applications.models import Application
from tests.accounts.factories import (
    ComputePlatformFactory,
    DistrictFactory,
    EnterpriseFactory,
    UserFactory,
)
from tests.audit.factories import admin_client, official, superuser
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue, platform_actor
from vouchers.services import voucher_redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def setting() -> dict[str, Any]:
    jianghan = DistrictFactory(code="420103", name="江汉区", name_en="Jianghan District")
    guiyang = DistrictFactory(code="520100", name="贵阳市", name_en="Guiyang")
    platform = ComputePlatformFactory(
        name="武汉人工智能计算中心", name_en="Wuhan AI Computing Center"
    )
    ours = ProgramFactory(district=jianghan, name="江汉区算力券", name_en="Jianghan Compute")
    theirs = ProgramFactory(district=guiyang, name="贵阳市算力券", name_en="Guiyang Compute")
    bind(ours, platform)
    bind(theirs, platform)
    hanjiang = EnterpriseFactory(name="武汉汉江智算科技有限公司")
    zhucheng = EnterpriseFactory(name="贵州筑城数据科技有限公司")
    v_ours = issue(ours, hanjiang, "100000.00")
    v_theirs = issue(theirs, zhucheng, "100000.00")
    return {
        "jianghan": jianghan,
        "guiyang": guiyang,
        "platform": platform,
        "ours": ours,
        "theirs": theirs,
        "v_ours": v_ours,
        "v_theirs": v_theirs,
        "n": 0,
    }


def charge(setting: dict[str, Any], voucher: Any, billed: str, model: str = "glm-5") -> None:
    from django.utils import timezone

    setting["n"] += 1
    voucher_redeem(
        actor=platform_actor(setting["platform"]),
        platform=setting["platform"],
        voucher=voucher,
        reference=f"inv-{setting['n']}",
        occurred_at=timezone.now(),
        billed_amount=Decimal(billed),
        usage=[{"model": model, "input_tokens": 10, "output_tokens": 5, "points": 15}],
    )


def dashboard(client: Any, **params: Any) -> Any:
    return client.get(reverse("audit_dashboard"), params)


# --- Who may not see it ---------------------------------------------------------


def test_an_auditor_sees_their_district_and_nothing_of_another(setting: dict) -> None:
    charge(setting, setting["v_ours"], "1000.00")
    charge(setting, setting["v_theirs"], "7777.00")
    client = admin_client(official(setting["jianghan"], Membership.Role.AUDITOR))
    response = dashboard(client)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Jianghan Compute" in page and "¥300.00" in page
    assert "Guiyang" not in page and "贵州筑城" not in page and "¥2,333.10" not in page
    assert [p.pk for p in response.context["programs"]] == [setting["ours"].pk]
    # No district picker for a single district, and another district's id is not found.
    assert 'name="district"' in page and "<select" not in page.split("dash-filter")[1][:400]
    assert dashboard(client, district=setting["guiyang"].pk).status_code == 404


def test_an_auditor_cannot_print_or_export_another_districts_program(setting: dict) -> None:
    client = admin_client(official(setting["jianghan"], Membership.Role.AUDITOR))
    theirs = setting["theirs"].pk
    assert client.get(reverse("audit_program_report", args=[theirs])).status_code == 404
    for fmt in ("csv", "xlsx"):
        url = reverse("audit_program_disclosure", args=[theirs, fmt])
        assert client.get(url).status_code == 404


@pytest.mark.parametrize("role", ["enterprise", "platform", "anonymous", "nobody"])
def test_people_who_are_not_officials_are_sent_away(setting: dict, role: str) -> None:
    from django.test import Client

    if role == "anonymous":
        client = Client()
    else:
        user = UserFactory(preferred_language="en")
        if role == "enterprise":
            Membership.objects.create(
                user=user,
                role=Membership.Role.ENTERPRISE_ADMIN,
                enterprise=setting["v_ours"].enterprise,
            )
        elif role == "platform":
            Membership.objects.create(
                user=user, role=Membership.Role.PLATFORM_OPERATOR, platform=setting["platform"]
            )
        client = admin_client(user)
    ours = setting["ours"].pk
    for url in (
        reverse("audit_dashboard"),
        reverse("audit_program_report", args=[ours]),
        reverse("audit_program_disclosure", args=[ours, "csv"]),
    ):
        response = client.get(url)
        assert response.status_code in (302, 403), url
        if response.status_code == 302:
            assert "login" in response["Location"]


def test_a_superuser_picks_any_district(setting: dict) -> None:
    charge(setting, setting["v_theirs"], "1000.00")
    client = admin_client(superuser())
    page = dashboard(client).content.decode()
    assert "<select" in page and "Guiyang" in page and "Jianghan District" in page
    response = dashboard(client, district=setting["guiyang"].pk)
    assert response.status_code == 200
    assert [p.pk for p in response.context["programs"]] == [setting["theirs"].pk]
    assert (
        client.get(reverse("audit_program_report", args=[setting["theirs"].pk])).status_code == 200
    )


def test_the_admin_index_links_to_the_dashboard(setting: dict) -> None:
    client = admin_client(official(setting["jianghan"], Membership.Role.REVIEWER))
    assert reverse("audit_dashboard") in client.get(reverse("admin:index")).content.decode()


# --- What it shows ------------------------------------------------------------


def test_the_dashboard_shows_budget_burn_platforms_models_recipients_and_waiting(
    setting: dict,
) -> None:
    charge(setting, setting["v_ours"], "1000.00", model="glm-5")
    charge(setting, setting["v_ours"], "500.00", model="kimi-k2")
    app = Application.objects.create(
        enterprise=EnterpriseFactory(name="武汉新芽科技有限公司"),
        program=setting["ours"],
        requested_amount=Decimal("8000"),
        purpose="x",
    )
    Application.objects.filter(pk=app.pk).update(status="submitted")
    client = admin_client(official(setting["jianghan"], Membership.Role.PROGRAM_MANAGER))
    response = dashboard(client)
    page = response.content.decode()
    assert page.count("<svg") >= 5
    for expected in (
        "¥1,000,000.00",  # the total budget
        "¥100,000.00",  # issued
        "¥450.00",  # redeemed: 30 % of 1,500
        "Wuhan AI Computing Center",
        "glm-5",
        "kimi-k2",
        "武汉汉江智算科技有限公司",
        "武汉新芽科技有限公司",
        reverse("audit_program_report", args=[setting["ours"].pk]),
        reverse("audit_program_disclosure", args=[setting["ours"].pk, "xlsx"]),
    ):
        assert expected in page, expected
    assert response.context["waiting"].count == 1
    # The charts carry no inline style and no script (the CSP allows neither).
    assert "<script" not in page.split('id="content-main"')[1]
    assert ' style="' not in page


def test_the_dashboard_reads_in_chinese(setting: dict) -> None:
    charge(setting, setting["v_ours"], "1000.00")
    client = admin_client(official(setting["jianghan"], Membership.Role.AUDITOR))
    client.cookies["django_language"] = "zh-hans"
    page = dashboard(client).content.decode()
    assert "江汉区算力券" in page and "武汉人工智能计算中心" in page


def test_a_start_date_after_the_end_date_is_explained(setting: dict) -> None:
    client = admin_client(official(setting["jianghan"], Membership.Role.AUDITOR))
    response = dashboard(client, date_from="2026-05-01", date_to="2026-04-01")
    assert response.status_code == 200
    assert "The start date is after the end date." in response.content.decode()


# --- Query count --------------------------------------------------------------


def _count(client: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert dashboard(client).status_code == 200
    return len(queries)


def test_the_dashboard_query_count_does_not_grow_with_charges_enterprises_or_applications(
    setting: dict,
) -> None:
    client = admin_client(official(setting["jianghan"], Membership.Role.AUDITOR))
    charge(setting, setting["v_ours"], "10.00")
    few = _count(client)
    for i in range(6):
        enterprise = EnterpriseFactory()
        voucher = issue(setting["ours"], enterprise, "1000.00")
        charge(setting, voucher, "20.00", model=f"model-{i}")
        Application.objects.filter(
            pk=Application.objects.create(
                enterprise=EnterpriseFactory(),
                program=setting["ours"],
                requested_amount=Decimal("100"),
                purpose="x",
            ).pk
        ).update(status="submitted")
    assert _count(client) == few
    assert few <= 30


def test_each_program_costs_a_bounded_number_of_queries(setting: dict) -> None:
    client = admin_client(official(setting["jianghan"], Membership.Role.AUDITOR))
    one = _count(client)
    for i in range(3):
        ProgramFactory(district=setting["jianghan"], name=f"江汉区数据券{i}")
    # program_budget reads three aggregates per program from the vouchers app
    # and one from the settlements app (owed, approved and paid together).
    assert _count(client) <= one + 3 * 4


def test_the_dashboard_and_the_report_show_the_districts_anomaly_flags(
    tmp_path: Any,
) -> None:
    import shutil
    import subprocess

    from django.test import Client

    from oversight.models import AnomalyFlag
    from tests.accounts.factories import add_totp
    from tests.world import build_world

    world = build_world()
    add_totp(world.official_x)
    today = timezone.localdate()
    flag = AnomalyFlag.objects.create(
        detector=AnomalyFlag.Detector.ROUND_BILLS,
        district=world.jianghan,
        program=world.prog_jianghan,
        enterprise=world.ent_jianghan,
        subject=f"enterprise:{world.ent_jianghan.pk}",
        period_start=today - datetime.timedelta(days=30),
        period_end=today,
        score=Decimal("1.0"),
        evidence={"measured": "1.0", "threshold": "0.8", "unit": "CNY"},
    )
    AnomalyFlag.objects.create(
        detector=AnomalyFlag.Detector.ROUND_BILLS,
        district=world.guiyang,
        program=world.prog_guiyang,
        enterprise=world.ent_guiyang,
        subject=f"enterprise:{world.ent_guiyang.pk}",
        period_start=today - datetime.timedelta(days=30),
        period_end=today,
        score=Decimal("1.0"),
        evidence={},
    )
    client = Client()
    client.force_login(world.official_x)
    page = client.get("/admin/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 awaiting a decision" in page
    assert f"/admin/oversight/anomalyflag/{flag.pk}/change/" in page
    assert world.ent_jianghan.name in page
    assert world.ent_guiyang.name not in page
    if shutil.which("pdftotext") is None:
        return
    pdf = client.get(
        f"/admin/dashboard/programs/{world.prog_jianghan.pk}/report.pdf?lang=en"
    ).content
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(  # noqa: S603 - a fixed local tool on our own file
        [shutil.which("pdftotext") or "pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Anomaly flags" in text
    flags_part = text[text.find("Anomaly flags") :]
    assert "1 awaiting a decision" in flags_part
    assert "Round-number" in flags_part  # the detector (the cell wraps)
    assert "100% of the bills are round amounts" in flags_part


# --- Settlements with the platforms --------------------------------------------


def _walk_to_approved(settlement: Any, reviewer: Any, finance: Any) -> Any:
    from audit.services import Actor
    from settlements.services import (
        settlement_approve,
        settlement_pass_on,
        settlement_start_review,
        settlement_submit,
    )

    settlement = settlement_submit(
        actor=platform_actor(settlement.platform),
        platform=settlement.platform,
        settlement_id=settlement.pk,
        invoice_number="INV-1",
        invoice_amount=settlement.amount_due,
    )
    settlement = settlement_start_review(actor=Actor.for_user(reviewer), settlement=settlement)
    settlement = settlement_pass_on(actor=Actor.for_user(reviewer), settlement=settlement)
    return settlement_approve(actor=Actor.for_user(finance), settlement=settlement)


def test_the_dashboard_shows_what_is_owed_approved_and_paid_per_platform(setting: dict) -> None:
    from audit.services import Actor
    from programs.models import Program
    from settlements.services import settlement_payment_record
    from tests.settlements.factories import settlement_of_last_month

    jianghan = setting["jianghan"]
    reviewer = official(jianghan, Membership.Role.REVIEWER)
    finance = official(jianghan, Membership.Role.FINANCE_OFFICER)
    # A draft with the first platform: owed. 30 % of two bills of 1,000.
    settlement_of_last_month(setting["ours"], setting["platform"], EnterpriseFactory())
    # Approved with a second platform, a third of it paid.
    second = ComputePlatformFactory(name="江汉区词元服务平台", name_en="Jianghan Token Platform")
    approved = _walk_to_approved(
        settlement_of_last_month(setting["ours"], second, EnterpriseFactory()), reviewer, finance
    )
    settlement_payment_record(
        actor=Actor.for_user(finance),
        settlement=approved,
        amount=Decimal("200.00"),
        paid_on=timezone.localdate(),
        payer_account="JH-FIN-01",
        bank_reference="B-0001",
    )
    # Guiyang owes a platform too: not Jianghan's business.
    tianyi = ComputePlatformFactory(name="天翼云词元平台", name_en="Tianyi Cloud Token Platform")
    settlement_of_last_month(setting["theirs"], tianyi, EnterpriseFactory())

    client = admin_client(official(jianghan, Membership.Role.AUDITOR))
    response = dashboard(client)
    page = response.content.decode()
    assert "Settlements with the platforms" in page
    [section] = response.context["settlement_sections"]
    assert section["unit"] == Program.Unit.CNY
    rows = {r.name: (r.settlements, r.owed, r.approved, r.paid) for r in section["rows"]}
    assert rows == {
        "Wuhan AI Computing Center": (1, Decimal("600.00"), Decimal("0"), Decimal("0")),
        "Jianghan Token Platform": (1, Decimal("0"), Decimal("600.00"), Decimal("200.00")),
    }
    shown = page.split('id="settlements"')[1].split("</section>")[0]
    assert "¥200.00" in shown and "Tianyi" not in shown

    # In Chinese, the platform's Chinese name.
    client.cookies["django_language"] = "zh-hans"
    assert "江汉区词元服务平台" in dashboard(client).content.decode()


def test_a_district_whose_programs_reimburse_shows_no_settlements(setting: dict) -> None:
    from programs.models import Program

    Program.objects.filter(pk=setting["ours"].pk).update(payout_mode=Program.PayoutMode.REIMBURSE)
    client = admin_client(official(setting["jianghan"], Membership.Role.AUDITOR))
    response = dashboard(client)
    assert "Settlements with the platforms" not in response.content.decode()
    assert response.context["settlement_sections"] == []


def test_another_districts_official_sees_none_of_its_settlements(setting: dict) -> None:
    from tests.settlements.factories import settlement_of_last_month

    settlement_of_last_month(setting["theirs"], setting["platform"], EnterpriseFactory())
    client = admin_client(official(setting["jianghan"], Membership.Role.FINANCE_OFFICER))
    response = dashboard(client)
    assert response.status_code == 200
    assert response.context["settlement_sections"] == []
    assert "No settlement has been drawn yet." in response.content.decode()
    assert dashboard(client, district=setting["guiyang"].pk).status_code == 404
