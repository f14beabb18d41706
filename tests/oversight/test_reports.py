"""The report selectors (oversight.reports), the program report PDF and the public
disclosure export, on crafted charges whose sums the tests work out themselves."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import shutil
import subprocess
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Membership
from applications.models import Application
from audit import events
from audit.models import AuditEvent
from audit.services import audit_checkpoint_create, audit_seal_pending, checkpoint_body
from oversight.overview import applications_waiting, disclosure_rows, period_figures
from oversight.reports import (
    Period,
    burn_over_time,
    redemptions_by_model,
    redemptions_by_platform,
    top_enterprises,
)
from programs.models import Program
from programs.selectors import program_budget
from tests.accounts.factories import ComputePlatformFactory, DistrictFactory, EnterpriseFactory
from tests.audit.factories import admin_client, official
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import frozen, issue, platform_actor, shanghai
from vouchers.models import Redemption
from vouchers.services import redemption_reverse, voucher_redeem

pytestmark = pytest.mark.django_db

RATE = Decimal("0.30")
MARCH = Period(datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def yuan(value: Decimal) -> str:
    """How the test expects an amount to be printed (written here, not imported)."""
    return f"¥{value:,.2f}"


class World:
    """Two districts; Jianghan's program has crafted charges in and around March."""

    def __init__(self) -> None:
        self.jianghan = DistrictFactory(code="420103", name="江汉区", name_en="Jianghan District")
        self.guiyang = DistrictFactory(code="520100", name="贵阳市", name_en="Guiyang")
        self.aicc = ComputePlatformFactory(
            name="武汉人工智能计算中心", name_en="Wuhan AI Computing Center"
        )
        self.cloud = ComputePlatformFactory(name="天翼云词元平台", name_en="Tianyi Cloud")
        self.program = ProgramFactory(
            district=self.jianghan, name="2026年江汉区算力券", name_en="Jianghan Compute 2026"
        )
        bind(self.program, self.aicc, self.cloud)
        self.other = ProgramFactory(
            district=self.guiyang, name="2026年贵阳市算力券", name_en="Guiyang Compute 2026"
        )
        bind(self.other, self.aicc)
        self.hanjiang = EnterpriseFactory(name="武汉汉江智算科技有限公司")
        self.chutian = EnterpriseFactory(name="武汉楚天小模型工作室")
        self.zhucheng = EnterpriseFactory(name="贵州筑城数据科技有限公司")
        with frozen(shanghai(2026, 2, 20, 9)):
            self.v_hanjiang = issue(self.program, self.hanjiang, "200000.00")
            self.v_chutian = issue(self.program, self.chutian, "50000.00")
            self.v_other = issue(self.other, self.zhucheng, "90000.00")
        self.n = 0
        # In March (China time): what the report of March must add up.
        self.march = [
            self.charge(self.v_hanjiang, self.aicc, (2026, 3, 2, 10), "1000.00", "glm-5", 600),
            self.charge(self.v_hanjiang, self.cloud, (2026, 3, 15, 14), "2345.50", "kimi-k2", 300),
            self.charge(self.v_chutian, self.aicc, (2026, 3, 31, 23, 30), "100.00", "glm-5", 100),
        ]
        # Outside March: 1 March 00:00 +08:00 is still February in UTC, and
        # 1 April 00:10 +08:00 is April in China although March in UTC.
        self.charge(self.v_hanjiang, self.aicc, (2026, 2, 28, 23, 50), "500.00", "glm-5", 50)
        self.charge(self.v_chutian, self.aicc, (2026, 4, 1, 0, 10), "700.00", "glm-5", 70)
        # Another district's charge in March.
        self.charge(self.v_other, self.aicc, (2026, 3, 10, 10), "9999.00", "glm-5", 999)
        # A partial reversal of the second March charge.
        with frozen(shanghai(2026, 3, 20, 9)):
            redemption_reverse(
                actor=platform_actor(self.cloud),
                platform=self.cloud,
                redemption_id=self.march[1].id,
                amount=Decimal("3.65"),
                reference="rev-1",
            )
        self.reversed = Decimal("3.65")
        # The services changed the budget counters on their own locked rows.
        self.program.refresh_from_db()
        self.other.refresh_from_db()

    def charge(
        self, voucher: Any, platform: Any, at: tuple[int, ...], billed: str, model: str, points: int
    ) -> Any:
        self.n += 1
        moment = shanghai(*at)
        with frozen(moment):
            result = voucher_redeem(
                actor=platform_actor(platform),
                platform=platform,
                voucher=voucher,
                reference=f"inv-{self.n}",
                occurred_at=moment,
                billed_amount=Decimal(billed),
                usage=[
                    {
                        "model": model,
                        "input_tokens": points * 10,
                        "output_tokens": points,
                        "points": points,
                    }
                ],
            )
        # The charge's time is the moment the row was written (the model's
        # default clock, which the frozen clock does not reach): set it as
        # the platform would have charged it.
        Redemption.objects.filter(pk=result.id).update(created_at=moment)
        return result

    @property
    def march_covered(self) -> Decimal:
        return sum((cents(Decimal(b) * RATE) for b in ("1000.00", "2345.50", "100.00")), Decimal(0))


@pytest.fixture
def world() -> World:
    return World()


# --- Figures -------------------------------------------------------------------


def test_the_period_figures_add_up_the_charges_made_in_the_period(world: World) -> None:
    figures = period_figures(world.program, period=MARCH)
    assert world.march_covered == Decimal("1033.65")
    assert figures.charges == 3
    assert figures.covered == world.march_covered
    assert figures.reversed_amount == world.reversed
    assert figures.net_covered == Decimal("1030.00")
    assert figures.enterprises == 2


def test_redemptions_by_platform_are_net_of_reversals_and_of_one_program_only(
    world: World,
) -> None:
    rows = {r.name: r for r in redemptions_by_platform([world.program], period=MARCH)}
    assert set(rows) == {"Wuhan AI Computing Center", "Tianyi Cloud"}
    assert rows["Wuhan AI Computing Center"].covered == cents(Decimal("1100.00") * RATE)
    assert rows["Wuhan AI Computing Center"].charges == 2
    assert rows["Tianyi Cloud"].covered == cents(Decimal("2345.50") * RATE) - world.reversed


def test_redemptions_by_model_sum_tokens_points_and_covered(world: World) -> None:
    rows = {r.model: r for r in redemptions_by_model([world.program], period=MARCH)}
    assert rows["glm-5"].charges == 2
    assert rows["glm-5"].points == 700
    assert rows["glm-5"].input_tokens == 7000
    assert rows["glm-5"].covered == Decimal("330.00")
    assert rows["kimi-k2"].covered == Decimal("700.00")


def test_a_charge_of_several_models_is_shared_by_their_points(world: World) -> None:
    with frozen(shanghai(2026, 3, 5, 10)):
        mixed = voucher_redeem(
            actor=platform_actor(world.aicc),
            platform=world.aicc,
            voucher=world.v_hanjiang,
            reference="mixed",
            occurred_at=shanghai(2026, 3, 5, 10),
            billed_amount=Decimal("400.00"),
            usage=[
                {"model": "a", "input_tokens": 1, "output_tokens": 1, "points": 300},
                {"model": "b", "input_tokens": 1, "output_tokens": 1, "points": 100},
            ],
        )
    Redemption.objects.filter(pk=mixed.id).update(created_at=shanghai(2026, 3, 5, 10))
    rows = {r.model: r for r in redemptions_by_model([world.program], period=MARCH)}
    assert rows["a"].covered == Decimal("90.00")
    assert rows["b"].covered == Decimal("30.00")


def test_top_enterprises_are_ranked_by_what_their_vouchers_covered(world: World) -> None:
    rows = top_enterprises([world.program], period=MARCH)
    assert [r.name for r in rows] == ["武汉汉江智算科技有限公司", "武汉楚天小模型工作室"]
    assert rows[0].covered == cents(Decimal("3345.50") * RATE) - world.reversed
    assert rows[0].uscc == world.hanjiang.uscc


def test_burn_counts_each_month_in_china_time_and_projects_the_coming_ones(
    world: World,
) -> None:
    (burn,) = burn_over_time([world.program], today=datetime.date(2026, 4, 15))
    by_month = {m.month: m for m in burn.months}
    assert by_month[datetime.date(2026, 3, 1)].covered == Decimal("1030.00")
    assert by_month[datetime.date(2026, 2, 1)].covered == Decimal("150.00")
    assert by_month[datetime.date(2026, 4, 1)].covered == Decimal("210.00")
    assert by_month[datetime.date(2026, 5, 1)].covered is None
    assert by_month[datetime.date(2026, 5, 1)].projected is not None
    assert by_month[datetime.date(2026, 5, 1)].rate == RATE
    # The projection is the program's own (vouchers.selectors.program_projection).
    assert burn.projection[0].year == 2026


def test_the_budget_figures_are_those_of_the_program_admin(world: World) -> None:
    from oversight.reports import budget_by_program

    (row,) = budget_by_program([world.program])
    assert row.budget == program_budget(program=world.program)
    assert row.budget.issued == Decimal("250000.00")


def test_applications_waiting_are_counted_by_age(world: World) -> None:
    now = shanghai(2026, 4, 30, 12)
    for days, status in ((2, "submitted"), (10, "under_review"), (45, "submitted")):
        app = Application.objects.create(
            enterprise=EnterpriseFactory(),
            program=world.program,
            requested_amount=Decimal("1000"),
            purpose="x",
        )
        Application.objects.filter(pk=app.pk).update(
            status=status, submitted_at=now - datetime.timedelta(days=days)
        )
    waiting = applications_waiting([world.program], now=now)
    assert waiting.count == 3
    assert [n for _label, n in waiting.buckets] == [1, 1, 1, 0]
    assert waiting.oldest[0].age_days == 45
    assert dict(waiting.by_status)["Submitted"] == 2


# --- The program report PDF -------------------------------------------------------


def _pdf_text(pdf: bytes, tmp_path: Any) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    pdftotext = shutil.which("pdftotext") or "pdftotext"
    return subprocess.run(  # noqa: S603 (a fixed local tool on a file we wrote)
        [pdftotext, "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _report(client: Any, program: Program, lang: str) -> Any:
    return client.get(
        reverse("audit_program_report", args=[program.pk]),
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "lang": lang},
    )


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
def test_the_report_pdf_prints_the_period_figures_and_the_checkpoint(
    world: World, tmp_path: Any
) -> None:
    audit_seal_pending()
    checkpoint = audit_checkpoint_create()
    assert checkpoint is not None
    client = admin_client(official(world.jianghan, Membership.Role.AUDITOR))
    response = _report(client, world.program, "zh-hans")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content, tmp_path)
    for expected in (
        "2026年江汉区算力券",
        "江汉区",
        "2026年3月1日",
        "2026年3月31日",
        yuan(world.march_covered - world.reversed),  # ¥1,030.00 net
        yuan(world.march_covered),  # ¥1,033.65 before reversals
        yuan(world.reversed),
        "武汉汉江智算科技有限公司",
        world.hanjiang.uscc,
        "武汉人工智能计算中心",
        "glm-5",
        checkpoint.root_hash,
        checkpoint.chain_head,
        checkpoint_body(checkpoint)["created_at"],  # the signed time, as published
        f"{checkpoint.tree_size:,}",
    ):
        assert expected in text, expected
    # Another district's charge is nowhere in it.
    assert "贵州筑城" not in text and yuan(cents(Decimal("9999.00") * RATE)) not in text


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
def test_the_report_pdf_reads_in_english_too(world: World, tmp_path: Any) -> None:
    client = admin_client(official(world.jianghan, Membership.Role.PROGRAM_MANAGER))
    text = _pdf_text(_report(client, world.program, "en").content, tmp_path)
    assert "Program report" in text and "Jianghan Compute 2026" in text
    assert yuan(world.march_covered - world.reversed) in text
    assert "No audit checkpoint has been signed yet" in text


def test_printing_a_report_is_audited(world: World) -> None:
    user = official(world.jianghan, Membership.Role.AUDITOR)
    pdf = _report(admin_client(user), world.program, "en").content
    event = AuditEvent.objects.get(event_type=events.PROGRAM_REPORT_PRINTED)
    assert event.after["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert event.district_id == world.jianghan.pk
    assert event.actor_user_id == user.pk
    assert event.after["from"] == "2026-03-01"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
@pytest.mark.parametrize(
    ("accept", "expected", "absent"),
    [
        ("en", "Program report", "2026年江汉区算力券"),
        ("zh-hans", "2026年江汉区算力券", "Program report"),
    ],
)
def test_without_lang_the_report_pdf_follows_the_requests_language(
    world: World, tmp_path: Any, accept: str, expected: str, absent: str
) -> None:
    client = admin_client(official(world.jianghan, Membership.Role.AUDITOR))
    response = client.get(
        reverse("audit_program_report", args=[world.program.pk]),
        {"date_from": "2026-03-01", "date_to": "2026-03-31"},
        HTTP_ACCEPT_LANGUAGE=accept,
    )
    assert response.status_code == 200
    text = _pdf_text(response.content, tmp_path)
    assert expected in text
    assert absent not in text
    event = AuditEvent.objects.get(event_type=events.PROGRAM_REPORT_PRINTED)
    assert event.after["language"] == accept


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
def test_lang_wins_over_the_requests_language(world: World, tmp_path: Any) -> None:
    client = admin_client(official(world.jianghan, Membership.Role.AUDITOR))
    response = client.get(
        reverse("audit_program_report", args=[world.program.pk]),
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "lang": "en"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert "Program report" in _pdf_text(response.content, tmp_path)


@pytest.mark.parametrize(
    ("accept", "error"), [("en", "The start date is after the end date."), ("zh-hans", "开始日期")]
)
def test_a_report_asked_for_a_start_after_its_end_is_not_printed_but_explained(
    world: World, accept: str, error: str
) -> None:
    client = admin_client(official(world.jianghan, Membership.Role.AUDITOR))
    response = client.get(
        reverse("audit_program_report", args=[world.program.pk]),
        {"date_from": "2026-03-31", "date_to": "2026-03-01", "lang": "en"},
        HTTP_ACCEPT_LANGUAGE=accept,
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("audit_dashboard") + "?")
    assert f"district={world.jianghan.pk}" in response["Location"]
    assert not AuditEvent.objects.filter(event_type=events.PROGRAM_REPORT_PRINTED).exists()
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE=accept)
    assert page.status_code == 200
    html = page.content.decode()
    assert error in html
    assert 'value="2026-03-31"' in html  # the dates asked for stay in the form


def test_a_date_out_of_range_is_shown_beside_the_dates(world: World) -> None:
    client = admin_client(official(world.jianghan, Membership.Role.AUDITOR))
    response = client.get(
        reverse("audit_dashboard"), {"date_from": "1999-12-31"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 2000-01-01." in response.content.decode()


# --- The public disclosure ----------------------------------------------------


@pytest.fixture
def approved_not_issued(world: World) -> Any:
    """An approval whose voucher is not issued yet: approved, nothing used."""
    enterprise = EnterpriseFactory(name="武汉新芽科技有限公司")
    app = Application.objects.create(
        enterprise=enterprise,
        program=world.program,
        requested_amount=Decimal("30000"),
        purpose="x",
    )
    Application.objects.filter(pk=app.pk).update(
        status="approved", approved_amount=Decimal("25000")
    )
    return enterprise


def test_the_disclosure_lists_approved_and_used_amounts(
    world: World, approved_not_issued: Any
) -> None:
    rows = {r.uscc: r for r in disclosure_rows(world.program)}
    assert set(rows) == {world.hanjiang.uscc, world.chutian.uscc, approved_not_issued.uscc}
    hanjiang = rows[world.hanjiang.uscc]
    assert hanjiang.approved == Decimal("200000.00")
    assert hanjiang.used == cents(Decimal("3845.50") * RATE) - world.reversed
    assert rows[world.chutian.uscc].used == cents(Decimal("800.00") * RATE)
    assert rows[approved_not_issued.uscc].approved == Decimal("25000")
    assert rows[approved_not_issued.uscc].used == 0


def _disclosure(client: Any, program: Program, fmt: str) -> Any:
    return client.get(reverse("audit_program_disclosure", args=[program.pk, fmt]))


def test_the_disclosure_csv_is_utf8_with_a_bom(world: World) -> None:
    client = admin_client(official(world.jianghan, Membership.Role.AUDITOR))
    response = _disclosure(client, world.program, "csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Recipient enterprise", "Unified Social Credit Code"]
    body = {r[1]: r for r in rows[1:]}
    assert body[world.hanjiang.uscc] == [
        "武汉汉江智算科技有限公司",
        world.hanjiang.uscc,
        "200000.00",
        str(cents(Decimal("3845.50") * RATE) - world.reversed),
    ]
    assert len(rows) == 3


def test_the_disclosure_xlsx_holds_numbers(world: World) -> None:
    from openpyxl import load_workbook

    client = admin_client(official(world.jianghan, Membership.Role.AUDITOR))
    response = _disclosure(client, world.program, "xlsx")
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][1] == "Unified Social Credit Code"
    body = {r[1]: r for r in rows[1:]}
    name, _uscc, approved, used = body[world.chutian.uscc]
    assert (name, approved) == ("武汉楚天小模型工作室", 50000)
    assert Decimal(str(used)) == cents(Decimal("800.00") * RATE)


def test_a_name_that_looks_like_a_formula_stays_text(world: World) -> None:
    from openpyxl import load_workbook

    world.chutian.name = '=HYPERLINK("http://evil.example","x")'
    world.chutian.save()
    client = admin_client(official(world.jianghan, Membership.Role.AUDITOR))
    text = _disclosure(client, world.program, "csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    sheet = load_workbook(io.BytesIO(_disclosure(client, world.program, "xlsx").content)).active
    assert sheet is not None
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in cells)


def test_each_disclosure_export_is_audited(world: World) -> None:
    user = official(world.jianghan, Membership.Role.PROGRAM_MANAGER)
    client = admin_client(user)
    _disclosure(client, world.program, "csv")
    _disclosure(client, world.program, "xlsx")
    exported = AuditEvent.objects.filter(event_type=events.DISCLOSURE_EXPORTED).order_by("id")
    assert [e.after["format"] for e in exported] == ["csv", "xlsx"]
    assert all(e.district_id == world.jianghan.pk and e.actor_user_id == user.pk for e in exported)
    assert exported[0].object_id == str(world.program.pk)


def test_an_unknown_disclosure_format_is_not_found(world: World) -> None:
    client = admin_client(official(world.jianghan, Membership.Role.AUDITOR))
    assert _disclosure(client, world.program, "pdf").status_code == 404
