"""``manage.py seed_demo``: idempotent, the districts and programs of the
seeds, valid USCCs, logins that work, and ``--json`` output."""

from __future__ import annotations

import html
import io
import json
import re
import time
from decimal import Decimal
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import ComputePlatform, District, Enterprise, Membership, User
from accounts.uscc import uscc_problem
from programs.models import Program
from tests.programs.factories import ProgramFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The seed sets a password for every demo user; the production hasher
    would make each run take seconds. What is tested does not depend on it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run_seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def dump_everything() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table Django knows (M2M tables included), by pk."""
    dump: dict[str, list[dict[str, Any]]] = {}
    for model in apps.get_models(include_auto_created=True):
        if not model._meta.managed:
            continue
        rows = list(model._default_manager.order_by("pk").values())
        dump[model._meta.label] = rows
    return dump


def test_running_seed_demo_twice_gives_the_same_data() -> None:
    run_seed()
    first = dump_everything()
    run_seed()
    second = dump_everything()
    assert first.keys() == second.keys()
    changed = [label for label in first if first[label] != second[label]]
    assert changed == []
    # Not vacuous: the seed made rows, passwords included.
    assert first["accounts.District"]
    assert first["accounts.Enterprise"]
    assert all(row["password"] for row in first["accounts.User"])


def test_a_second_run_does_not_reset_a_changed_password() -> None:
    run_seed()
    user = User.objects.get(email="official@jianghan.example.gov.cn")
    user.set_password("A-New-Personal-Password-7")
    user.save()
    run_seed()
    user.refresh_from_db()
    assert user.check_password("A-New-Personal-Password-7")


def test_the_districts_of_the_seeds() -> None:
    run_seed()
    codes = {d.code: d for d in District.objects.all()}
    assert set(codes) >= {"420100", "420103", "520100", "130600"}
    assert codes["420103"].parent == codes["420100"]
    assert codes["420100"].parent is None
    assert codes["420100"].name == "武汉市"
    assert codes["420103"].name == "江汉区"


def test_the_programs_as_published() -> None:
    run_seed()
    jianghan = Program.objects.filter(district__code="420103")
    assert {p.kind for p in jianghan} == {"token", "compute", "model", "data"}
    budgets = {p.kind: p for p in jianghan}
    assert budgets["compute"].total_budget == Decimal("10000000")
    assert budgets["model"].total_budget == Decimal("5000000")
    assert budgets["data"].total_budget == Decimal("5000000")
    token = budgets["token"]
    assert token.unit == Program.Unit.POINTS
    assert token.total_budget == Decimal(10_000_000 * 250_000)
    assert all("500" in p.summary and "20" in p.summary for p in jianghan)

    wuhan = Program.objects.get(district__code="420100")
    assert wuhan.total_budget == Decimal("100000000")
    assert "一人公司" in wuhan.summary

    guiyang = Program.objects.get(district__code="520100")
    assert guiyang.total_budget == Decimal("140000000")
    assert guiyang.base_rate == Decimal("0.30")
    assert guiyang.cross_region

    baoding = Program.objects.get(
        district__code="130600", payout_mode=Program.PayoutMode.DEDUCT_AT_PLATFORM
    )
    assert baoding.per_enterprise_cap == Decimal("300000")

    assert set(Program.objects.values_list("status", flat=True)) == {Program.Status.OPEN}


def test_three_platforms_each_with_an_operator() -> None:
    run_seed()
    assert ComputePlatform.objects.count() == 3
    for platform in ComputePlatform.objects.all():
        assert platform.memberships.filter(role=Membership.Role.PLATFORM_OPERATOR).exists()
        assert platform.districts_served.exists()


def test_enterprises_have_valid_usccs_and_one_user_each() -> None:
    run_seed()
    enterprises = list(Enterprise.objects.all())
    assert len(enterprises) >= 4
    for enterprise in enterprises:
        assert uscc_problem(enterprise.uscc) is None, enterprise.uscc
        assert enterprise.division_code == enterprise.uscc[2:8]
        assert enterprise.memberships.filter(role=Membership.Role.ENTERPRISE_ADMIN).count() == 1
    for code in ("420103", "420100", "520100", "130600"):
        district = District.objects.get(code=code)
        assert any(district.covers(e.division_code) for e in enterprises), code


def test_one_program_manager_per_district_and_a_second_reviewer_for_four_eyes() -> None:
    run_seed()
    for district in District.objects.all():
        managers = User.objects.filter(
            memberships__district=district, memberships__role=Membership.Role.PROGRAM_MANAGER
        ).distinct()
        reviewers = User.objects.filter(
            memberships__district=district, memberships__role=Membership.Role.REVIEWER
        ).distinct()
        # A second manager where agreements are decided: the one who assigns
        # an assessment never decides it.
        agreements = Program.objects.filter(district=district, requires_agreement=True).exists()
        assert managers.count() == (2 if agreements else 1), district.code
        assert reviewers.count() == 2, district.code


def test_json_output_parses_and_lists_what_was_made() -> None:
    data = json.loads(run_seed("--json"))
    assert {d["code"] for d in data["districts"]} >= {"420100", "420103", "520100", "130600"}
    assert len(data["programs"]) == Program.objects.count() >= 7
    assert {p["district"] for p in data["programs"]} == {
        "420100",
        "420103",
        "520100",
        "130600",
        "110000",  # Beijing's contract voucher (demo/seed_claims.py)
    }
    assert len(data["platforms"]) == 3
    assert data["enterprises"]
    for enterprise in data["enterprises"]:
        assert uscc_problem(enterprise["uscc"]) is None
        assert enterprise["division_code"] == enterprise["uscc"][2:8]
        assert Enterprise.objects.filter(pk=enterprise["id"], uscc=enterprise["uscc"]).exists()
    roles = [login["role"] for login in data["logins"]]
    assert "superuser" in roles
    assert sum(r.startswith("official") for r in roles) == 5
    assert sum(r.startswith("enterprise") for r in roles) == len(data["enterprises"])
    assert sum(r.startswith("platform") for r in roles) == 3
    # The printed passwords work.
    for login in data["logins"]:
        assert authenticate(email=login["email"], password=login["password"]) is not None, login


def test_json_output_is_the_same_on_a_second_run() -> None:
    first, second = json.loads(run_seed("--json")), json.loads(run_seed("--json"))
    for key in first:
        differing = [(a, b) for a, b in zip(first[key], second[key], strict=True) if a != b]
        assert differing == [], key


def test_plain_output_prints_the_logins() -> None:
    out = run_seed()
    assert "official@jianghan.example.gov.cn" in out
    assert "admin@platform.example.com" in out


def test_the_seeded_official_sets_up_totp_and_sees_only_their_district(settings: Any) -> None:
    settings.MFA_TOTP_TOLERANCE = 1  # a code computed just before a 30 s boundary
    data = json.loads(run_seed("--json"))
    login = next(x for x in data["logins"] if x["role"] == "official 420103")
    client = Client()
    response = client.post(
        reverse("account_login"),
        {"login": login["email"], "password": login["password"]},
        follow=True,
    )
    assert reverse("mfa_activate_totp") in [url for url, _ in response.redirect_chain]
    if response.request["PATH_INFO"] == reverse("account_reauthenticate"):
        response = client.post(
            response.redirect_chain[-1][0], {"password": login["password"]}, follow=True
        )
    assert response.request["PATH_INFO"] == reverse("mfa_activate_totp")
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    assert client.post(reverse("mfa_activate_totp"), {"code": code}).status_code == 302

    response = client.get("/admin/accounts/enterprise/")
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown
    registered = set(Enterprise.objects.filter(division_code="420103"))
    assert registered <= set(shown)
    # Issue 13: an enterprise registered elsewhere is shown, read-only, only
    # while it has business in Jianghan (here: vouchers of Jianghan's programs).
    for other in set(shown) - registered:
        assert other.vouchers.filter(program__district__code="420103").exists(), other
        page = client.get(f"/admin/accounts/enterprise/{other.pk}/change/")
        assert page.context["has_change_permission"] is False
    response = client.get("/admin/accounts/district/")
    assert [d.code for d in response.context["cl"].result_list] == ["420103"]


def test_a_seeded_enterprise_user_signs_in_to_their_portal() -> None:
    data = json.loads(run_seed("--json"))
    enterprise = data["enterprises"][0]
    login = next(x for x in data["logins"] if x["role"].startswith("enterprise"))
    client = Client()
    response = client.post(
        reverse("account_login"),
        {"login": login["email"], "password": login["password"]},
        follow=True,
    )
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == reverse("portal")
    page = response.content.decode()
    assert enterprise["uscc"] in page
    # And nobody else's enterprise.
    for other in data["enterprises"][1:]:
        assert other["uscc"] not in page


# --- the pages showing the seeded data ---------------------------------------


def district_sections(page: str) -> list[str]:
    """The district headings of the home page's program list, in order."""
    return re.findall(r'<h3 class="district-heading">\s*(.*?)\s*<span class="code">', page)


def test_home_lists_the_open_programs_grouped_by_district_in_english() -> None:
    run_seed()
    draft = ProgramFactory(
        draft=True,
        district=District.objects.get(code="420103"),
        name="江汉区草稿券",
        name_en="Jianghan Draft Vouchers",
    )
    paused = ProgramFactory(
        district=District.objects.get(code="520100"),
        name="贵阳暂停券",
        name_en="Guiyang Paused Vouchers",
        status=Program.Status.PAUSED,
    )
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="en"' in page
    grouped = response.context["districts"]
    assert [d.code for d, _ in grouped] == sorted({d.code for d, _ in grouped})
    for district, programs in grouped:
        assert programs
        assert {p.district_id for p in programs} == {district.pk}
        assert {p.status for p in programs} == {Program.Status.OPEN}
    assert district_sections(page) == [
        "Beijing",
        "Baoding",
        "Wuhan",
        "Jianghan District, Wuhan",
        "Guiyang",
    ]
    for program in Program.objects.filter(status=Program.Status.OPEN):
        assert html.escape(program.name_en) in page
    assert draft.name_en not in page and draft.name not in page
    assert paused.name_en not in page and paused.name not in page
    assert response.context["program_count"] == Program.objects.filter(status="open").count()


def test_home_lists_the_open_programs_in_chinese() -> None:
    run_seed()
    client = Client()
    client.cookies["django_language"] = "zh-hans"
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="zh-hans"' in page
    assert district_sections(page) == ["北京市", "保定市", "武汉市", "江汉区", "贵阳市"]
    for program in Program.objects.filter(status=Program.Status.OPEN):
        assert program.name in page
        assert program.name_en not in page
    with translation.override("zh-hans"):
        heading = gettext("Open programs")
    assert heading != "Open programs"
    assert heading in page


def test_home_without_open_programs_says_so() -> None:
    ProgramFactory(draft=True, name="草稿", name_en="Only a draft")
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "No program is open for applications right now." in page
    assert "Only a draft" not in page
