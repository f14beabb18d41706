"""Who sees what, through ``accounts.scoping.scoped`` and each model's
``scope_q``: allowed rows and, just as much, denied ones."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import AnonymousUser
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from accounts.models import ComputePlatform, District, Enterprise, Membership, User
from accounts.scoping import scope_for, scoped
from audit.models import AuditEvent
from audit.services import Actor, audit_record
from programs.models import PhaseStep, Program
from tests.accounts.factories import EnterpriseFactory, add_totp
from tests.applications.factories import application as make_application
from tests.vouchers.factories import issue
from tests.world import World, build_world

pytestmark = pytest.mark.django_db

Role = Membership.Role


@pytest.fixture
def world() -> World:
    return build_world()


def visible(model: type[Model], user: Any) -> set[Any]:
    return set(scoped(model._default_manager.all(), fresh(user)))


def fresh(user: Any) -> Any:
    """Reload a user so no cached scope or property survives."""
    if user is None or isinstance(user, AnonymousUser):
        return user
    return User.objects.get(pk=user.pk)


# --- officials --------------------------------------------------------------


def test_an_official_sees_their_own_district_only(world: World) -> None:
    assert visible(District, world.official_x) == {world.jianghan}
    assert visible(District, world.official_y) == {world.guiyang}
    # A city official does not get the districts under it as their own.
    assert visible(District, world.official_wuhan) == {world.wuhan}


def test_an_official_sees_their_districts_programs_and_not_another_districts(
    world: World,
) -> None:
    assert visible(Program, world.official_x) == {world.prog_jianghan}
    assert visible(Program, world.official_y) == {world.prog_guiyang}


def test_a_city_official_does_not_see_programs_of_a_district_under_the_city(
    world: World,
) -> None:
    seen = visible(Program, world.official_wuhan)
    assert seen == {world.prog_wuhan}
    assert world.prog_jianghan not in seen


def test_an_official_sees_enterprises_registered_inside_their_district(world: World) -> None:
    seen = visible(Enterprise, world.official_x)
    assert seen == {world.ent_jianghan}
    assert world.ent_jiangan not in seen
    assert world.ent_guiyang not in seen
    assert visible(Enterprise, world.official_y) == {world.ent_guiyang}


def test_a_city_official_sees_the_enterprises_registered_in_the_city_itself(
    world: World,
) -> None:
    # Issue 13: Jianghan's enterprise belongs to Jianghan, not to the city;
    # Jiang'an (420102) has no district of its own, so its enterprise is Wuhan's.
    assert visible(Enterprise, world.official_wuhan) == {world.ent_jiangan}


def test_a_city_official_reads_a_child_districts_enterprise_while_it_has_business_there(
    world: World,
) -> None:
    # A draft is the enterprise's own affair: not business with the city yet.
    make_application(world.ent_jianghan, world.prog_wuhan, with_document=False)
    assert world.ent_jianghan not in visible(Enterprise, world.official_wuhan)
    issue(world.prog_wuhan, world.ent_jianghan, amount="1000.00")
    assert world.ent_jianghan in visible(Enterprise, world.official_wuhan)


def test_a_city_auditor_reads_the_child_districts_data(world: World) -> None:
    auditor = User.objects.create_user("auditor@wuhan.test")
    Membership.objects.create(user=auditor, role=Role.AUDITOR, district=world.wuhan)
    assert visible(Enterprise, auditor) == {world.ent_jianghan, world.ent_jiangan}
    assert visible(Program, auditor) == {world.prog_wuhan, world.prog_jianghan}
    assert visible(District, auditor) == {world.wuhan, world.jianghan}
    assert world.prog_guiyang not in visible(Program, auditor)


def test_a_district_prefix_does_not_leak_into_a_neighbouring_code(world: World) -> None:
    # 420103 is Jianghan; 4201030 does not exist, but 420130 shares "42013":
    # a Jianghan official must not see it.
    other = EnterpriseFactory(division="420130")
    assert other not in visible(Enterprise, world.official_x)
    assert other in visible(Enterprise, world.official_wuhan)


def test_an_official_sees_their_districts_memberships_and_not_another_districts(
    world: World,
) -> None:
    seen = visible(Membership, world.official_x)
    assert {m.district for m in seen} == {world.jianghan}
    assert Membership.objects.filter(district=world.jianghan).count() == len(seen)
    assert not any(m.district == world.guiyang for m in seen)
    assert not any(m.enterprise_id or m.platform_id for m in seen)


def test_an_official_sees_platforms_serving_their_district_and_the_national_list(
    world: World,
) -> None:
    assert visible(ComputePlatform, world.official_x) == {
        world.platform_x,
        world.platform_national,
    }
    assert visible(ComputePlatform, world.official_y) == {
        world.platform_y,
        world.platform_national,
    }


def test_an_official_sees_the_people_of_their_district_not_of_another(world: World) -> None:
    seen = visible(User, world.official_x)
    assert world.official_x in seen
    assert world.official_y not in seen
    assert world.ent_admin_y not in seen
    assert world.operator_y not in seen


def test_an_official_sees_their_districts_phase_steps_only(world: World) -> None:
    step_x = PhaseStep.objects.create(
        program=world.prog_jianghan, starts_on=datetime.date(2027, 1, 1), rate=Decimal("0.2")
    )
    step_y = PhaseStep.objects.create(
        program=world.prog_guiyang, starts_on=datetime.date(2027, 1, 1), rate=Decimal("0.2")
    )
    assert step_x in visible(PhaseStep, world.official_x)
    assert step_y not in visible(PhaseStep, world.official_x)
    assert {s.program for s in visible(PhaseStep, world.official_x)} == {world.prog_jianghan}
    assert {s.program for s in visible(PhaseStep, world.official_y)} == {world.prog_guiyang}
    assert visible(PhaseStep, world.official_wuhan) == set()


def test_an_official_reads_only_their_districts_audit_events(world: World) -> None:
    actor = Actor.system("test")
    ev_x = audit_record(actor=actor, event_type="t", obj=None, district_id=world.jianghan.pk)
    ev_y = audit_record(actor=actor, event_type="t", obj=None, district_id=world.guiyang.pk)
    ev_none = audit_record(actor=actor, event_type="t", obj=None)
    seen = visible(AuditEvent, world.official_x)
    assert ev_x in seen
    assert ev_y not in seen
    assert ev_none not in seen
    assert visible(AuditEvent, world.ent_admin_x) == set()


# --- enterprise members -----------------------------------------------------


def test_an_enterprise_member_sees_only_their_enterprise(world: World) -> None:
    for user in (world.ent_admin_x, world.ent_member_x):
        assert visible(Enterprise, user) == {world.ent_jianghan}
        assert visible(District, user) == set()
        assert visible(Program, user) == set()
        assert visible(ComputePlatform, user) == set()
    assert visible(Enterprise, world.ent_admin_y) == {world.ent_guiyang}


def test_an_enterprise_admin_sees_their_enterprises_memberships_only(world: World) -> None:
    seen = visible(Membership, world.ent_admin_x)
    assert {m.user for m in seen} == {world.ent_admin_x, world.ent_member_x}
    assert {m.enterprise for m in seen} == {world.ent_jianghan}


def test_an_enterprise_member_sees_only_their_own_membership(world: World) -> None:
    seen = visible(Membership, world.ent_member_x)
    assert {m.user for m in seen} == {world.ent_member_x}


def test_an_enterprise_user_sees_their_colleagues_but_not_other_people(world: World) -> None:
    seen = visible(User, world.ent_member_x)
    assert seen == {world.ent_member_x, world.ent_admin_x}


# --- platform operators -----------------------------------------------------


def test_a_platform_operator_sees_only_their_platform(world: World) -> None:
    assert visible(ComputePlatform, world.operator_x) == {world.platform_x}
    assert visible(ComputePlatform, world.operator_y) == {world.platform_y}
    assert visible(Enterprise, world.operator_x) == set()
    assert visible(District, world.operator_x) == set()
    assert visible(Program, world.operator_x) == set()
    assert {m.user for m in visible(Membership, world.operator_x)} == {world.operator_x}


# --- anonymous, inactive, superuser ---------------------------------------


MODELS: list[type[Model]] = [
    District,
    Enterprise,
    ComputePlatform,
    Membership,
    User,
    Program,
    PhaseStep,
    AuditEvent,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_anonymous_sees_nothing(world: World, model: type[Model]) -> None:
    assert model._default_manager.exists()
    assert visible(model, AnonymousUser()) == set()
    assert visible(model, None) == set()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_deactivated_official_sees_nothing(world: World, model: type[Model]) -> None:
    User.objects.filter(pk=world.official_x.pk).update(is_active=False)
    assert visible(model, world.official_x) == set()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_superuser_sees_everything(world: World, model: type[Model]) -> None:
    audit_record(actor=Actor.system("test"), event_type="t", obj=None)
    assert visible(model, world.superuser) == set(model._default_manager.all())


def test_a_model_without_scope_q_shows_nothing_to_anyone_but_a_superuser(world: World) -> None:
    assert EmailAddress.objects.exists()
    assert visible(EmailAddress, world.official_wuhan) == set()
    assert visible(EmailAddress, world.ent_admin_x) == set()
    assert visible(EmailAddress, world.superuser) == set(EmailAddress.objects.all())


def test_scope_lists_the_users_organisations(world: World) -> None:
    scope = scope_for(fresh(world.official_x))
    assert scope.district_ids == {world.jianghan.pk}
    assert scope.district_roles[world.jianghan.pk] == {Role.PROGRAM_MANAGER, Role.REVIEWER}
    assert scope.district_prefixes == ("420103",)
    assert scope.enterprise_ids == frozenset()
    assert scope_for(fresh(world.official_wuhan)).district_prefixes == ("4201",)
    ent_scope = scope_for(fresh(world.ent_member_x))
    assert ent_scope.enterprise_ids == {world.ent_jianghan.pk}
    assert ent_scope.admin_enterprise_ids == frozenset()
    assert scope_for(fresh(world.ent_admin_x)).admin_enterprise_ids == {world.ent_jianghan.pk}
    assert scope_for(fresh(world.operator_x)).platform_ids == {world.platform_x.pk}


def test_only_officials_and_superusers_are_staff(world: World) -> None:
    assert fresh(world.official_x).is_staff
    assert fresh(world.official_y).is_staff
    assert fresh(world.superuser).is_staff
    assert not fresh(world.ent_admin_x).is_staff
    assert not fresh(world.ent_member_x).is_staff
    assert not fresh(world.operator_x).is_staff


# --- the same rules on the site's pages ----------------------------------------


def portal_of(user: User) -> Any:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client.get(reverse("portal"))


def test_an_enterprise_users_portal_shows_their_enterprise_and_no_other(world: World) -> None:
    for user in (world.ent_admin_x, world.ent_member_x):
        response = portal_of(user)
        assert response.status_code == 200
        page = response.content.decode()
        assert world.ent_jianghan.uscc in page
        assert world.ent_guiyang.uscc not in page
        assert world.ent_jiangan.uscc not in page
        assert list(response.context["enterprises"]) == [world.ent_jianghan]
        assert list(response.context["platforms"]) == []


def test_a_platform_operators_portal_shows_their_platform_and_no_other(world: World) -> None:
    response = portal_of(world.operator_x)
    assert response.status_code == 200
    page = response.content.decode()
    assert world.platform_x.name_en in page
    assert world.platform_y.name_en not in page
    assert world.platform_national.name_en not in page
    assert list(response.context["enterprises"]) == []
    for enterprise in (world.ent_jianghan, world.ent_guiyang):
        assert enterprise.uscc not in page


def test_an_officials_portal_is_the_admin(world: World) -> None:
    response = portal_of(world.official_x)
    # Without TOTP they are first sent to set it up; with it, to the admin.
    assert response.status_code == 302
    add_totp(world.official_x)
    response = portal_of(world.official_x)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_anonymous_is_asked_to_sign_in_for_the_portal(world: World) -> None:
    response = Client().get(reverse("portal"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
