"""Issue 13: a role counts only in the district where it is held.

A user who is program manager in Wuhan (420100) and only auditor in Jianghan
(420103, under Wuhan) changes Wuhan's programs, rule sets and detector
settings, and only reads Jianghan's; a Wuhan auditor reads Jianghan's data
and changes nothing; an enterprise belongs to its registration district and
another district reads it only while it has business there. Everything
through the admin, as officials meet it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Enterprise, Membership, User
from applications.models import Application
from eligibility.models import RuleSet
from oversight.models import DetectorSettings
from programs.models import Program
from tests.accounts.factories import (
    EnterpriseFactory,
    add_totp,
    membership,
    official,
)
from tests.admin_forms import posted_form
from tests.applications.factories import application as make_application
from tests.eligibility.factories import rule_set as make_rule_set
from tests.programs.factories import ProgramFactory
from tests.vouchers.factories import issue
from tests.world import World, build_world

pytestmark = pytest.mark.django_db

Role = Membership.Role

RULES = {"all": [{"fact": "headcount", "op": "gte", "value": "5"}]}


@pytest.fixture
def world(settings: Any, tmp_path: Any) -> World:
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    w = build_world()
    for user in (w.official_x, w.official_wuhan, w.official_y, w.superuser):
        add_totp(user)
    return w


@pytest.fixture
def mixed(world: World) -> User:
    """Program manager in Wuhan, only auditor in Jianghan."""
    user = official(world.wuhan, email="pm-wuhan.auditor-jianghan@test")
    membership(user, Role.AUDITOR, world.jianghan)
    add_totp(user)
    return user


@pytest.fixture
def city_auditor(world: World) -> User:
    user = official(world.wuhan, role=Role.AUDITOR, email="auditor@wuhan.test")
    add_totp(user)
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_url(obj: Any) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def form_of(user: User, obj: Any) -> dict[str, Any]:
    response = client_for(user).get(change_url(obj))
    assert response.status_code == 200
    return posted_form(response)


# --- programs ---------------------------------------------------------------------


def test_a_wuhan_manager_who_audits_jianghan_cannot_change_a_jianghan_program(
    world: World, mixed: User
) -> None:
    program = world.prog_jianghan
    data = {**form_of(world.official_x, program), "name": "Changed by Wuhan"}
    response = client_for(mixed).post(change_url(program), data)
    assert response.status_code == 403
    program.refresh_from_db()
    assert program.name != "Changed by Wuhan"
    # The same form from Jianghan's own program manager goes through.
    assert client_for(world.official_x).post(change_url(program), data).status_code == 302
    program.refresh_from_db()
    assert program.name == "Changed by Wuhan"


def test_the_same_user_changes_a_wuhan_program(world: World, mixed: User) -> None:
    program = world.prog_wuhan
    data = {**form_of(mixed, program), "name": "Changed in Wuhan"}
    assert client_for(mixed).post(change_url(program), data).status_code == 302
    program.refresh_from_db()
    assert program.name == "Changed in Wuhan"


def test_a_jianghan_program_reads_as_read_only_to_its_auditor_from_wuhan(
    world: World, mixed: User
) -> None:
    response = client_for(mixed).get(change_url(world.prog_jianghan))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert response.context["has_delete_permission"] is False
    # No program move (open, pause, close) is offered, and posting one is refused.
    assert response.context["program_moves"] == []
    move = reverse("admin:programs_program_move", args=[world.prog_jianghan.pk, "pause"])
    assert client_for(mixed).post(move).status_code == 403
    world.prog_jianghan.refresh_from_db()
    assert world.prog_jianghan.status == Program.Status.OPEN


def test_a_new_program_is_offered_only_in_the_districts_where_the_user_manages(
    world: World, mixed: User
) -> None:
    client = client_for(mixed)
    form = client.get(reverse("admin:programs_program_add")).context["adminform"].form
    assert list(form.fields["district"].queryset) == [world.wuhan]
    data = {**form_of(mixed, world.prog_wuhan), "district": world.jianghan.pk, "name": "Sneaky"}
    data["phase_steps-INITIAL_FORMS"] = "0"
    response = client.post(reverse("admin:programs_program_add"), data)
    assert response.status_code == 200
    assert "district" in response.context["adminform"].form.errors
    assert not Program.objects.filter(name="Sneaky").exists()


def test_a_new_programs_platforms_and_rule_sets_are_those_of_the_district_where_the_user_manages(
    world: World, mixed: User
) -> None:
    make_rule_set(world.jianghan, RULES, name="Jianghan rules")
    wuhan_rules = make_rule_set(world.wuhan, RULES, name="Wuhan rules")
    RuleSet.objects.update(status=RuleSet.Status.PUBLISHED)
    form = client_for(mixed).get(reverse("admin:programs_program_add")).context["adminform"].form
    # platform_x serves Jianghan only; the national platform serves everyone.
    assert set(form.fields["platforms"].queryset) == {world.platform_national}
    assert list(form.fields["rule_set"].queryset) == [wuhan_rules]


def test_a_wuhan_manager_who_audits_jianghan_may_not_delete_a_jianghan_program_by_action(
    world: World, mixed: User
) -> None:
    draft = ProgramFactory(draft=True, district=world.jianghan, name="Jianghan draft")
    response = client_for(mixed).post(
        reverse("admin:programs_program_changelist"),
        {"action": "delete_selected", "_selected_action": [draft.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302, 403)
    assert Program.objects.filter(pk=draft.pk).exists()


def test_rows_the_user_may_only_read_carry_no_action_checkbox(world: World, mixed: User) -> None:
    ProgramFactory(draft=True, district=world.jianghan, name="Jianghan draft")
    wuhan_draft = ProgramFactory(draft=True, district=world.wuhan, name="Wuhan draft")
    response = client_for(mixed).get(reverse("admin:programs_program_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    shown = {p.district_id for p in response.context["cl"].result_list}
    assert shown == {world.wuhan.pk, world.jianghan.pk}
    selectable = {
        p.pk for p in Program.objects.all() if f'name="_selected_action" value="{p.pk}"' in html
    }
    assert selectable == {world.prog_wuhan.pk, wuhan_draft.pk}


# --- rule sets ----------------------------------------------------------------------


def test_a_wuhan_manager_who_audits_jianghan_cannot_change_jianghans_rule_set(
    world: World, mixed: User
) -> None:
    rules = make_rule_set(world.jianghan, RULES, name="Jianghan rules")
    data = {**form_of(world.official_x, rules), "name": "Changed by Wuhan"}
    assert client_for(mixed).post(change_url(rules), data).status_code == 403
    importing = reverse("admin:eligibility_ruleset_import", args=[rules.pk])
    assert client_for(mixed).post(importing, {"definition": "{}"}).status_code == 403
    client_for(mixed).post(
        reverse("admin:eligibility_ruleset_changelist"),
        {"action": "publish", "_selected_action": [rules.pk]},
    )
    rules.refresh_from_db()
    assert rules.name == "Jianghan rules"
    assert rules.status == RuleSet.Status.DRAFT
    assert client_for(world.official_x).post(change_url(rules), data).status_code == 302


def test_a_rule_set_is_created_only_in_a_district_where_the_user_manages(
    world: World, mixed: User
) -> None:
    client = client_for(mixed)
    form = client.get(reverse("admin:eligibility_ruleset_add")).context["adminform"].form
    assert list(form.fields["district"].queryset) == [world.wuhan]


# --- detector settings --------------------------------------------------------------

DETECTOR_SETTINGS = {
    "spike_multiplier": "999",
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


def test_a_wuhan_manager_who_audits_jianghan_cannot_silence_jianghans_detectors(
    world: World, mixed: User
) -> None:
    add = reverse("admin:oversight_detectorsettings_add")
    client = client_for(mixed)
    offered = client.get(add).context["adminform"].form.fields["program"].queryset
    assert list(offered) == [world.prog_wuhan]
    response = client.post(add, {"program": world.prog_jianghan.pk, **DETECTOR_SETTINGS})
    assert response.status_code == 200
    assert "program" in response.context["adminform"].form.errors
    assert not DetectorSettings.objects.filter(program=world.prog_jianghan).exists()
    # Wuhan's own program: allowed.
    response = client.post(add, {"program": world.prog_wuhan.pk, **DETECTOR_SETTINGS})
    assert response.status_code == 302
    assert DetectorSettings.objects.filter(program=world.prog_wuhan).exists()


def test_jianghans_detector_settings_cannot_be_changed_from_wuhan(
    world: World, mixed: User
) -> None:
    settings = DetectorSettings.objects.create(program=world.prog_jianghan)
    data = {**form_of(world.official_x, settings), "spike_multiplier": "999"}
    assert client_for(mixed).post(change_url(settings), data).status_code == 403
    settings.refresh_from_db()
    assert settings.spike_multiplier != 999


# --- a parent district's auditors ----------------------------------------------------


def test_a_city_auditor_reads_the_child_districts_program_and_changes_nothing(
    world: World, city_auditor: User
) -> None:
    program = world.prog_jianghan
    client = client_for(city_auditor)
    response = client.get(change_url(program))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    data = {**form_of(world.official_x, program), "name": "Changed by the city"}
    assert client.post(change_url(program), data).status_code == 403
    program.refresh_from_db()
    assert program.name != "Changed by the city"
    # Not a third district's.
    assert client.get(change_url(world.prog_guiyang)).status_code in (302, 404)


# --- enterprises belong to their registration district --------------------------------


def _suspend(user: User, enterprise: Enterprise, form_from: User) -> int:
    data = {**form_of(form_from, enterprise), "status": Enterprise.Status.SUSPENDED}
    return client_for(user).post(change_url(enterprise), data).status_code


def test_a_city_manager_cannot_see_a_child_districts_enterprise_with_no_business_in_the_city(
    world: World,
) -> None:
    enterprise = world.ent_jianghan
    assert client_for(world.official_wuhan).get(change_url(enterprise)).status_code in (302, 404)
    assert _suspend(world.official_wuhan, enterprise, world.superuser) in (302, 404)
    enterprise.refresh_from_db()
    assert enterprise.status != Enterprise.Status.SUSPENDED


def test_a_city_manager_reads_but_cannot_suspend_an_enterprise_that_has_a_voucher_of_the_city(
    world: World,
) -> None:
    enterprise = world.ent_jianghan
    issue(world.prog_wuhan, enterprise, amount="1000.00")
    response = client_for(world.official_wuhan).get(change_url(enterprise))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert _suspend(world.official_wuhan, enterprise, world.superuser) == 403
    enterprise.refresh_from_db()
    assert enterprise.status != Enterprise.Status.SUSPENDED
    # Its registration district's program manager may.
    assert _suspend(world.official_x, enterprise, world.official_x) == 302
    enterprise.refresh_from_db()
    assert enterprise.status == Enterprise.Status.SUSPENDED


def test_a_district_cannot_suspend_an_enterprise_that_only_applied_to_the_city(
    world: World,
) -> None:
    # Registered in Jiang'an (Wuhan's, no district of its own here), applied to Wuhan.
    enterprise = world.ent_jiangan
    make_application(enterprise, world.prog_wuhan, status=Application.Status.SUBMITTED)
    assert _suspend(world.official_x, enterprise, world.superuser) in (302, 404)
    # Jianghan's program manager who also audits Wuhan reads it, and no more.
    manager = official(world.jianghan, email="pm-jianghan.auditor-wuhan@test")
    membership(manager, Role.AUDITOR, world.wuhan)
    add_totp(manager)
    assert client_for(manager).get(change_url(enterprise)).status_code == 200
    assert _suspend(manager, enterprise, world.superuser) == 403
    enterprise.refresh_from_db()
    assert enterprise.status != Enterprise.Status.SUSPENDED


def test_a_district_reads_an_enterprise_from_elsewhere_while_it_applies_there_but_never_changes_it(
    world: World,
) -> None:
    outsider = EnterpriseFactory(division="520115", name="贵阳申请人")
    client = client_for(world.official_x)
    assert client.get(change_url(outsider)).status_code in (302, 404)
    make_application(outsider, world.prog_jianghan, status=Application.Status.SUBMITTED)
    assert client.get(change_url(outsider)).status_code == 200
    assert _suspend(world.official_x, outsider, world.superuser) == 403
    outsider.refresh_from_db()
    assert outsider.status != Enterprise.Status.SUSPENDED


# --- sidebar filters ------------------------------------------------------------------


def test_the_applications_filter_lists_no_other_districts_programs(world: World) -> None:
    ProgramFactory(
        draft=True, district=world.guiyang, name="贵阳未发布草稿", name_en="Guiyang secret draft"
    )
    ProgramFactory(draft=True, district=world.wuhan, name="武汉草稿", name_en="Wuhan draft")
    make_application(world.ent_jianghan, world.prog_jianghan, status=Application.Status.SUBMITTED)
    response = client_for(world.official_x).get(
        reverse("admin:applications_application_changelist"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    html = response.content.decode()
    for program in Program.objects.exclude(district=world.jianghan):
        assert program.name not in html, program
        assert f"program__id__exact={program.pk}" not in html, program
    assert world.guiyang.name not in html
