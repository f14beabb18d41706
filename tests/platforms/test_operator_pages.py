"""Operators' pages: a platform's own activity and monthly settlement statement."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.middleware import is_platform_operator, user_has_mfa
from audit.models import AuditEvent
from platforms.operator_views import quantize_amount, quantize_billed
from tests.accounts.factories import (
    ComputePlatformFactory,
    add_totp,
    enterprise_user,
    platform_operator,
)
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue, platform_actor
from vouchers.services import redemption_reverse, voucher_redeem

pytestmark = pytest.mark.django_db


def logged_in(user: Any) -> Client:
    """A client signed in as ``user``; an operator with the TOTP that the
    operator pages ask for (tests/accounts/test_mfa_required.py)."""
    if is_platform_operator(user) and not user_has_mfa(user):
        add_totp(user)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world() -> dict[str, Any]:
    mine = ComputePlatformFactory(name="汉江算力平台", name_en="Hanjiang Compute")
    theirs = ComputePlatformFactory()
    program = ProgramFactory(name="江汉区算力券测试", base_rate=Decimal("0.30"))
    bind(program, mine, theirs)
    voucher = issue(program, amount="5000.00")

    def charge(platform: Any, reference: str, billed: str) -> Any:
        return voucher_redeem(
            actor=platform_actor(platform),
            platform=platform,
            voucher_code=voucher.code,
            reference=reference,
            occurred_at=timezone.now(),
            billed_amount=Decimal(billed),
        ).redemption

    first = charge(mine, "inv-1", "1000.00")  # covers 300.00
    charge(mine, "inv-2", "200.00")  # covers 60.00
    charge(theirs, "other-1", "100.00")
    redemption_reverse(
        actor=platform_actor(mine),
        platform=mine,
        redemption_id=first.pk,
        amount=Decimal("50.00"),
        reference="rf-1",
        reason="job failed",
    )
    return {"mine": mine, "theirs": theirs, "program": program, "voucher": voucher}


def month() -> str:
    return timezone.localdate().strftime("%Y-%m")


def test_an_operator_sees_its_own_activity_and_not_the_other_platforms(world) -> None:
    client = logged_in(platform_operator(world["mine"]))
    home = client.get(reverse("operator_home"))
    assert home.status_code == 302
    page = client.get(home["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "inv-1" in text and "inv-2" in text and "rf-1" in text
    assert "other-1" not in text
    refused = client.get(reverse("operator_platform", args=[world["theirs"].slug]))
    assert refused.status_code == 404


def test_people_who_operate_no_platform_are_refused(world) -> None:
    enterprise_client = logged_in(enterprise_user(world["voucher"].enterprise))
    assert enterprise_client.get(reverse("operator_home")).status_code == 403
    url = reverse("operator_settlement", args=[world["mine"].slug, month(), "csv"])
    assert enterprise_client.get(url).status_code == 403
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert "login" in anonymous["Location"]


def test_the_settlement_nets_reversals_by_program_in_csv(world) -> None:
    client = logged_in(platform_operator(world["mine"]))
    response = client.get(
        reverse("operator_settlement", args=[world["mine"].slug, month(), "csv"]),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    lines = response.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].split(",")[-4:] == ["billed_cny", "covered", "reversed", "net_owed"]
    assert len(lines) == 2
    row = lines[1].split(",")
    assert row[3] == "江汉区算力券测试"
    # Two charges: 1,200.00 billed, 360.00 covered, 50.00 reversed → 310.00 owed.
    assert row[5:] == ["2", "1200.00", "360.00", "50.00", "310.00"]
    assert AuditEvent.objects.filter(event_type="settlement.exported").count() == 1


def test_a_month_without_activity_and_bad_months_or_formats(world) -> None:
    client = logged_in(platform_operator(world["mine"]))
    empty = client.get(reverse("operator_settlement", args=[world["mine"].slug, "2025-01", "html"]))
    assert empty.status_code == 200
    assert "inv-1" not in empty.content.decode()
    for bad_month, fmt in (("2026-13", "csv"), ("soon", "html"), (month(), "xlsx")):
        url = reverse("operator_settlement", args=[world["mine"].slug, bad_month, fmt])
        assert client.get(url).status_code == 404


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
def test_the_settlement_pdf_renders_chinese_and_the_figures(world, tmp_path) -> None:
    client = logged_in(platform_operator(world["mine"]))
    response = client.get(
        reverse("operator_settlement", args=[world["mine"].slug, month(), "pdf"]),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    path = tmp_path / "settlement.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(  # noqa: S603 (a fixed local tool on a file we wrote)
        [shutil.which("pdftotext") or "pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "江汉区算力券测试" in text
    assert "汉江算力平台" in text
    assert "310.00" in text and "360.00" in text


def test_a_program_name_that_is_a_formula_reaches_the_settlement_csv_as_text(world) -> None:
    program = world["program"]
    program.name = '=HYPERLINK("http://evil.example/","click")'
    program.save(update_fields=["name"])
    client = logged_in(platform_operator(world["mine"]))
    response = client.get(
        reverse("operator_settlement", args=[world["mine"].slug, month(), "csv"]),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][3] == "'" + program.name
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_settlement_csv_amounts_have_the_places_of_the_unit() -> None:
    assert str(quantize_amount(Decimal("47380.9300000000"), "CNY")) == "47380.93"
    assert str(quantize_amount(Decimal("-50.005"), "CNY")) == "-50.01"
    assert str(quantize_amount(Decimal("1200.0000"), "POINTS")) == "1200"
    assert str(quantize_billed(Decimal("1200"))) == "1200.00"


@pytest.mark.parametrize("platform", ["mine", "theirs"])
def test_every_settlement_csv_amount_is_rounded_to_its_unit(world, platform: str) -> None:
    # "theirs" has a charge and no reversal: its reversed sum was written "0".
    client = logged_in(platform_operator(world[platform]))
    response = client.get(
        reverse("operator_settlement", args=[world[platform].slug, month(), "csv"])
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    for row in rows[1:]:
        for amount in row[6:]:
            assert re.fullmatch(r"-?\d+\.\d{2}", amount), amount
