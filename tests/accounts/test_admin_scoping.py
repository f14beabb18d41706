"""The admin, through the test client: officials see only their district's
rows, nobody else gets in, and logging in goes through allauth."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib import admin
from django.db.models import Model
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.admin_scoping import ScopedModelAdmin
from accounts.models import Enterprise, Membership, User
from accounts.scoping import scoped
from audit import events
from audit.models import AuditEvent
from tests.accounts.factories import add_totp, make_uscc, official
from tests.world import World, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    w = build_world()
    for user in (w.official_x, w.official_wuhan, w.official_y, w.superuser):
        add_totp(user)
    return w


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def changelist(model: str) -> str:
    return reverse(f"admin:{model.replace('.', '_')}_changelist")


def change(obj: Model) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def assert_not_shown(response: HttpResponse) -> None:
    """A change page of a row out of scope: 404, or a redirect away from it."""
    assert response.status_code in (302, 404), response.status_code


# --- officials --------------------------------------------------------------


def test_an_official_with_totp_reaches_the_admin_index(world: World) -> None:
    response = client_for(world.official_x).get(reverse("admin:index"))
    assert response.status_code == 200


def test_the_enterprise_changelist_shows_only_enterprises_registered_in_the_district(
    world: World,
) -> None:
    response = client_for(world.official_x).get(changelist("accounts.enterprise"))
    assert response.status_code == 200
    shown = set(response.context["cl"].result_list)
    assert shown == {world.ent_jianghan}
    html = response.content.decode()
    assert world.ent_jianghan.uscc in html
    assert world.ent_guiyang.uscc not in html
    assert world.ent_jiangan.uscc not in html


def test_a_city_program_manager_sees_the_citys_enterprises_not_those_of_a_district_under_it(
    world: World,
) -> None:
    # Issue 13: an enterprise belongs to its registration district. Jiang'an
    # (420102) has no district of its own here, so its enterprise is Wuhan's;
    # Jianghan's enterprise is Jianghan's, and it has no business with Wuhan.
    response = client_for(world.official_wuhan).get(changelist("accounts.enterprise"))
    assert set(response.context["cl"].result_list) == {world.ent_jiangan}


def test_a_city_auditor_reads_the_enterprises_of_the_districts_under_the_city(
    world: World,
) -> None:
    auditor = official(world.wuhan, role=Membership.Role.AUDITOR)
    add_totp(auditor)
    response = client_for(auditor).get(changelist("accounts.enterprise"))
    assert set(response.context["cl"].result_list) == {world.ent_jianghan, world.ent_jiangan}


def test_the_other_districts_official_sees_the_other_enterprises(world: World) -> None:
    response = client_for(world.official_y).get(changelist("accounts.enterprise"))
    assert set(response.context["cl"].result_list) == {world.ent_guiyang}


def test_searching_does_not_reach_past_the_scope(world: World) -> None:
    response = client_for(world.official_x).get(
        changelist("accounts.enterprise"), {"q": world.ent_guiyang.uscc}
    )
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_the_district_changelist_shows_only_the_officials_district(world: World) -> None:
    response = client_for(world.official_x).get(changelist("accounts.district"))
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == {world.jianghan}


def test_the_membership_changelist_shows_only_the_districts_memberships(world: World) -> None:
    response = client_for(world.official_x).get(changelist("accounts.membership"))
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown
    assert {m.district for m in shown} == {world.jianghan}


def test_the_user_changelist_does_not_show_other_districts_people(world: World) -> None:
    response = client_for(world.official_x).get(changelist("accounts.user"))
    assert response.status_code == 200
    shown = set(response.context["cl"].result_list)
    assert world.official_x in shown
    assert world.official_y not in shown
    assert world.ent_admin_y not in shown
    assert world.superuser not in shown


def test_the_platform_changelist_shows_platforms_serving_the_district(world: World) -> None:
    response = client_for(world.official_x).get(changelist("accounts.computeplatform"))
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == {
        world.platform_x,
        world.platform_national,
    }


def test_the_change_page_of_an_own_enterprise_opens(world: World) -> None:
    response = client_for(world.official_x).get(change(world.ent_jianghan))
    assert response.status_code == 200
    assert world.ent_jianghan.uscc in response.content.decode()


def test_the_change_page_of_another_districts_enterprise_is_not_shown(world: World) -> None:
    client = client_for(world.official_x)
    response = client.get(change(world.ent_guiyang))
    assert_not_shown(response)
    followed = client.get(change(world.ent_guiyang), follow=True)
    assert world.ent_guiyang.uscc not in followed.content.decode()
    assert world.ent_guiyang.name not in followed.content.decode()


def test_another_districts_enterprise_cannot_be_changed_by_post(world: World) -> None:
    client = client_for(world.official_x)
    before = Enterprise.objects.get(pk=world.ent_guiyang.pk)
    response = client.post(
        change(world.ent_guiyang), {"name": "Hijacked", "uscc": before.uscc, "status": "verified"}
    )
    assert_not_shown(response)
    after = Enterprise.objects.get(pk=world.ent_guiyang.pk)
    assert after.name == before.name
    assert after.status == before.status


def test_the_change_page_of_another_district_is_not_shown(world: World) -> None:
    assert_not_shown(client_for(world.official_x).get(change(world.guiyang)))
    # A city official does not administer the districts under the city.
    assert_not_shown(client_for(world.official_wuhan).get(change(world.jianghan)))


def test_the_change_page_of_another_districts_membership_is_not_shown(world: World) -> None:
    other = Membership.objects.filter(district=world.guiyang).first()
    assert other is not None
    assert_not_shown(client_for(world.official_x).get(change(other)))


def test_the_program_changelist_shows_only_the_districts_programs(world: World) -> None:
    # Officials define programs in the admin (DESIGN.md): the program admin
    # must exist and be scoped like every other.
    response = client_for(world.official_x).get("/admin/programs/program/")
    assert response.status_code == 200, "no program admin is registered"
    assert set(response.context["cl"].result_list) == {world.prog_jianghan}


def test_the_change_page_of_another_districts_program_is_not_shown(world: World) -> None:
    url = "/admin/programs/program/{}/change/"
    assert_not_shown(client_for(world.official_x).get(url.format(world.prog_guiyang.pk)))
    assert_not_shown(client_for(world.official_wuhan).get(url.format(world.prog_jianghan.pk)))


PROJECT_APPS = {"accounts", "eligibility", "vouchers", "platforms", "audit", "oversight"}


def test_every_model_admin_of_the_project_is_scoped() -> None:
    unscoped = [
        f"{model._meta.label}: {type(model_admin).__name__}"
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in PROJECT_APPS and not isinstance(model_admin, ScopedModelAdmin)
    ]
    assert unscoped == []


@pytest.mark.parametrize(
    "url",
    [
        "/admin/auth/group/",
        "/admin/account/emailaddress/",
        "/admin/mfa/authenticator/",
        "/admin/django_celery_beat/periodictask/",
    ],
)
def test_an_official_cannot_open_the_unscoped_third_party_admins(world: World, url: str) -> None:
    response = client_for(world.official_x).get(url)
    assert response.status_code == 403, response.status_code


def test_a_superuser_sees_every_enterprise(world: World) -> None:
    response = client_for(world.superuser).get(changelist("accounts.enterprise"))
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == set(Enterprise.objects.all())


# --- everyone else ------------------------------------------------------------


@pytest.mark.parametrize("who", ["ent_admin_x", "ent_member_x", "operator_x"])
@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/accounts/enterprise/",
        "/admin/accounts/district/",
        "/admin/accounts/computeplatform/",
    ],
)
def test_enterprise_users_and_platform_operators_cannot_reach_the_admin(
    world: World, who: str, url: str
) -> None:
    client = client_for(getattr(world, who))
    response = client.get(url, follow=True)
    assert response.status_code == 403 or response.redirect_chain[-1][0].startswith(
        "/accounts/login/"
    ), (response.status_code, response.redirect_chain)
    html = response.content.decode()
    assert world.ent_jianghan.uscc not in html
    assert world.ent_guiyang.uscc not in html


def test_an_enterprise_user_cannot_open_even_their_own_enterprise_in_the_admin(
    world: World,
) -> None:
    response = client_for(world.ent_admin_x).get(change(world.ent_jianghan))
    assert response.status_code in (302, 403)
    followed = client_for(world.ent_admin_x).get(change(world.ent_jianghan), follow=True)
    assert followed.status_code == 403 or followed.redirect_chain[-1][0].startswith(
        "/accounts/login/"
    )


def test_anonymous_is_sent_to_allauths_login_not_the_admin_login_form(world: World) -> None:
    client = Client()
    response = client.get("/admin/accounts/enterprise/", follow=True)
    final_url, _status = response.redirect_chain[-1]
    parts = urlsplit(final_url)
    assert parts.path == reverse("account_login") == "/accounts/login/"
    next_url = parse_qs(parts.query)["next"][0]
    assert next_url.startswith("/admin/")
    assert response.status_code == 200
    templates = {t.name for t in response.templates}
    assert "admin/login.html" not in templates
    assert world.ent_jianghan.uscc not in response.content.decode()


def test_the_admin_login_url_redirects_to_allauth(world: World) -> None:
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    parts = urlsplit(response["Location"])
    assert parts.path == "/accounts/login/"
    assert parse_qs(parts.query)["next"] == ["/admin/"]


def test_posting_to_the_admin_login_form_does_not_log_anyone_in(world: World) -> None:
    from tests.accounts.factories import PASSWORD

    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": world.official_x.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"
    assert "_auth_user_id" not in client.session


# --- writes through the admin -------------------------------------------------


def enterprise_form(enterprise: Enterprise, **overrides: str) -> dict[str, str]:
    data = {
        "name": enterprise.name,
        "uscc": enterprise.uscc,
        "status": enterprise.status,
        "industry": enterprise.industry,
        "founded_on": enterprise.founded_on.isoformat(),
        "headcount": str(enterprise.headcount),
        "prior_year_revenue": str(enterprise.prior_year_revenue),
        "local_tax_paid": str(enterprise.local_tax_paid),
        "legal_representative": enterprise.legal_representative,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
        "contact_email": enterprise.contact_email,
        "address": enterprise.address,
    }
    data.update(overrides)
    return data


def test_a_program_manager_can_verify_an_enterprise_of_their_district(world: World) -> None:
    client = client_for(world.official_x)
    response = client.post(
        change(world.ent_jianghan), enterprise_form(world.ent_jianghan, status="verified")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    world.ent_jianghan.refresh_from_db()
    assert world.ent_jianghan.status == Enterprise.Status.VERIFIED


def test_an_admin_edit_is_recorded_in_the_audit_log(world: World) -> None:
    client = client_for(world.official_x)
    client.post(change(world.ent_jianghan), enterprise_form(world.ent_jianghan, status="verified"))
    world.ent_jianghan.refresh_from_db()
    assert world.ent_jianghan.status == Enterprise.Status.VERIFIED
    event = AuditEvent.objects.filter(
        object_type="accounts.enterprise", object_id=str(world.ent_jianghan.pk)
    ).first()
    assert event is not None, "an admin edit left no audit event (DESIGN.md: every admin edit)"
    assert event.event_type == events.ADMIN_CHANGE
    assert event.actor_user_id == world.official_x.pk


def test_an_official_cannot_move_an_enterprise_into_another_district(world: World) -> None:
    # Locality comes from the USCC; an official who could rewrite it could
    # hand an enterprise to (or take one from) another district.
    guiyang_code = make_uscc("520115", 777)
    client = client_for(world.official_x)
    client.post(change(world.ent_jianghan), enterprise_form(world.ent_jianghan, uscc=guiyang_code))
    world.ent_jianghan.refresh_from_db()
    assert world.ent_jianghan.division_code == "420103"
    assert world.ent_jianghan not in scoped(Enterprise.objects.all(), world.official_y)


def test_a_reviewer_cannot_change_an_enterprise(world: World) -> None:
    reviewer = official(world.jianghan, role=Membership.Role.REVIEWER, email="rev@jh.test")
    add_totp(reviewer)
    client = client_for(reviewer)
    response = client.post(
        change(world.ent_jianghan), enterprise_form(world.ent_jianghan, status="suspended")
    )
    assert response.status_code == 403
    world.ent_jianghan.refresh_from_db()
    assert world.ent_jianghan.status != Enterprise.Status.SUSPENDED
    # They may still look.
    assert client.get(change(world.ent_jianghan)).status_code == 200


# --- labels ---------------------------------------------------------------------


def test_every_model_and_field_of_the_admin_has_a_chinese_label() -> None:
    cjk = re.compile(r"[\u4e00-\u9fff]")
    missing = []
    with translation.override("zh-hans"):
        for model in admin.site._registry:
            if model._meta.app_label not in PROJECT_APPS:
                continue
            for label in (model._meta.verbose_name, model._meta.verbose_name_plural):
                if not cjk.search(str(label)):
                    missing.append(f"{model._meta.label}: {label}")
            for field in model._meta.get_fields():
                if field.auto_created or not hasattr(field, "verbose_name"):
                    continue
                if not cjk.search(str(field.verbose_name)):
                    missing.append(f"{model._meta.label}.{field.name}: {field.verbose_name}")
            for choice_field in model._meta.fields:
                if choice_field.name == "preferred_language":
                    continue  # each language is named in itself ("English")
                for _value, text in choice_field.flatchoices:
                    if not cjk.search(str(text)):
                        missing.append(f"{model._meta.label}.{choice_field.name} choice: {text}")
    assert missing == []


# --- the admin's side doors -------------------------------------------------------


def test_the_history_and_delete_pages_of_another_districts_enterprise_are_not_shown(
    world: World,
) -> None:
    client = client_for(world.official_x)
    base = f"/admin/accounts/enterprise/{world.ent_guiyang.pk}"
    for url in (f"{base}/history/", f"{base}/delete/"):
        response = client.get(url)
        assert response.status_code in (302, 403, 404), (url, response.status_code)
        followed = client.get(url, follow=True)
        assert world.ent_guiyang.uscc not in followed.content.decode()
    assert client.post(f"{base}/delete/", {"post": "yes"}).status_code in (302, 403, 404)
    assert Enterprise.objects.filter(pk=world.ent_guiyang.pk).exists()


@pytest.mark.parametrize("term", ["", "贵阳", "企业"])
def test_autocomplete_offers_only_enterprises_in_scope(world: World, term: str) -> None:
    response = client_for(world.official_x).get(
        "/admin/autocomplete/",
        {
            "app_label": "accounts",
            "model_name": "membership",
            "field_name": "enterprise",
            "term": term,
        },
    )
    if response.status_code == 403:
        return  # not offered at all: nothing leaks
    assert response.status_code == 200
    ids = {int(r["id"]) for r in response.json()["results"]}
    assert world.ent_guiyang.pk not in ids
    assert world.ent_jiangan.pk not in ids
    if term == "":
        assert world.ent_jianghan.pk in ids  # the check above is not vacuous


def test_autocomplete_offers_only_people_in_scope(world: World) -> None:
    response = client_for(world.official_x).get(
        "/admin/autocomplete/",
        {"app_label": "accounts", "model_name": "membership", "field_name": "user", "term": ""},
    )
    if response.status_code == 403:
        return
    assert response.status_code == 200
    ids = {int(r["id"]) for r in response.json()["results"]}
    assert world.official_y.pk not in ids
    assert world.ent_admin_y.pk not in ids
    assert world.superuser.pk not in ids
    assert world.official_x.pk in ids


def test_the_changelist_filter_by_id_does_not_reach_past_the_scope(world: World) -> None:
    response = client_for(world.official_x).get(
        changelist("accounts.enterprise"), {"id__exact": world.ent_guiyang.pk}
    )
    if response.status_code == 200:
        assert list(response.context["cl"].result_list) == []
    else:
        assert response.status_code == 302
