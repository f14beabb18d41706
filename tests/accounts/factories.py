"""factory_boy factories for people and organisations (and programs, which the
scoping tests need)."""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import generate_totp_secret
from allauth.mfa.utils import encrypt
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import ComputePlatform, District, Enterprise, Membership, User
from accounts.uscc import check_character
from audit.services import Actor, audit_record
from programs.models import PhaseStep, Program

PASSWORD = "Correct-Horse-Battery-42"
Role = Membership.Role

YEAR = datetime.timedelta(days=365)


@functools.cache
def _password_hash() -> str:
    return make_password(PASSWORD)


def make_uscc(division: str, serial: int) -> str:
    """A valid USCC of an enterprise registered in ``division``."""
    first17 = f"91{division}MA{serial:07d}"
    return first17 + check_character(first17)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Sequence(lambda n: f"Person {n}")
    # Hashed once: hashing per user would make the suite slow.
    password = factory.LazyFunction(lambda: _password_hash())

    @factory.post_generation
    def verified(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.save()
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"区{n}")
    name_en = factory.Sequence(lambda n: f"District {n}")
    code = factory.Sequence(lambda n: f"{610100 + n:06d}")
    parent = None


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    class Params:
        division = "420103"

    name = factory.Sequence(lambda n: f"测试科技有限公司{n}")
    uscc = factory.LazyAttributeSequence(lambda o, n: make_uscc(o.division, n))
    legal_representative = "张三"
    contact_name = "李四"
    contact_phone = "027-1234-5678"
    headcount = 25
    prior_year_revenue = Decimal("6000000.00")
    local_tax_paid = Decimal("300000.00")
    industry = Enterprise.Industry.INFORMATION
    founded_on = datetime.date(2020, 1, 1)


class ComputePlatformFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComputePlatform

    slug = factory.Sequence(lambda n: f"platform-{n}")
    name = factory.Sequence(lambda n: f"算力平台{n}")
    name_en = factory.Sequence(lambda n: f"Platform {n}")
    operator = "运营公司"
    on_national_list = False


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    district = factory.SubFactory(DistrictFactory)
    name = factory.Sequence(lambda n: f"算力券{n}")
    name_en = factory.Sequence(lambda n: f"Compute vouchers {n}")
    kind = Program.Kind.COMPUTE
    unit = Program.Unit.CNY
    total_budget = Decimal("10000000.00")
    per_enterprise_cap = Decimal("500000.00")
    base_rate = Decimal("0.30")
    # Relative to today (Shanghai): the programs accept applications whatever
    # day the tests run on.
    application_opens_on = factory.LazyFunction(lambda: timezone.localdate() - 3 * YEAR)
    application_closes_on = factory.LazyFunction(lambda: timezone.localdate() + 3 * YEAR)

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Program:
        # The status is a protected FSM field: set it in the database.
        status = kwargs.pop("status", Program.Status.DRAFT)
        program = super()._create(model_class, *args, **kwargs)
        if status != Program.Status.DRAFT:
            Program.objects.filter(pk=program.pk).update(status=status)
            program.refresh_from_db()
        return program


def membership(user: User, role: str, org: Any) -> Membership:
    """Give ``user`` ``role`` in ``org`` (a District, Enterprise or ComputePlatform)."""
    kwargs: dict[str, Any] = {}
    if isinstance(org, District):
        kwargs["district"] = org
    elif isinstance(org, Enterprise):
        kwargs["enterprise"] = org
    else:
        kwargs["platform"] = org
    return Membership.objects.create(user=user, role=role, **kwargs)


def official(district: District, *, role: str = Membership.Role.PROGRAM_MANAGER, **kw: Any) -> User:
    user = UserFactory(**kw)
    membership(user, role, district)
    return user


def enterprise_user(
    enterprise: Enterprise, *, role: str = Membership.Role.ENTERPRISE_ADMIN, **kw: Any
) -> User:
    user = UserFactory(**kw)
    membership(user, role, enterprise)
    return user


def platform_operator(platform: ComputePlatform, **kw: Any) -> User:
    user = UserFactory(**kw)
    membership(user, Membership.Role.PLATFORM_OPERATOR, platform)
    return user


def add_totp(user: User) -> Authenticator:
    """Give ``user`` a TOTP authenticator, stored as allauth stores it."""
    return Authenticator.objects.create(
        user=user,
        type=Authenticator.Type.TOTP,
        data={"secret": encrypt(generate_totp_secret())},
    )


@dataclass
class World:
    wuhan: District
    jianghan: District
    guiyang: District
    ent_jianghan: Enterprise
    ent_jiangan: Enterprise
    ent_guiyang: Enterprise
    platform_x: ComputePlatform
    platform_y: ComputePlatform
    platform_national: ComputePlatform
    prog_jianghan: Program
    prog_wuhan: Program
    prog_guiyang: Program
    official_x: User
    official_wuhan: User
    official_y: User
    ent_admin_x: User
    ent_member_x: User
    ent_admin_y: User
    operator_x: User
    operator_y: User
    superuser: User


def build_world() -> World:
    """Two districts X (Jianghan, under Wuhan) and Y (Guiyang), with enterprises
    registered in each, platforms, programs and one person per role."""
    wuhan = DistrictFactory(code="420100", name="武汉市", name_en="Wuhan")
    jianghan = DistrictFactory(code="420103", name="江汉区", name_en="Jianghan", parent=wuhan)
    guiyang = DistrictFactory(code="520100", name="贵阳市", name_en="Guiyang")
    ent_jianghan = EnterpriseFactory(division="420103", name="江汉企业")
    # Jiang'an District (420102): inside Wuhan, not inside Jianghan.
    ent_jiangan = EnterpriseFactory(division="420102", name="江岸企业")
    ent_guiyang = EnterpriseFactory(division="520115", name="贵阳企业")
    platform_x = ComputePlatformFactory(slug="x-platform")
    platform_x.districts_served.set([jianghan])
    platform_y = ComputePlatformFactory(slug="y-platform")
    platform_y.districts_served.set([guiyang])
    platform_national = ComputePlatformFactory(slug="national", on_national_list=True)
    w = World(
        wuhan=wuhan,
        jianghan=jianghan,
        guiyang=guiyang,
        ent_jianghan=ent_jianghan,
        ent_jiangan=ent_jiangan,
        ent_guiyang=ent_guiyang,
        platform_x=platform_x,
        platform_y=platform_y,
        platform_national=platform_national,
        prog_jianghan=ProgramFactory(district=jianghan, status=Program.Status.OPEN),
        prog_wuhan=ProgramFactory(district=wuhan, status=Program.Status.OPEN),
        prog_guiyang=ProgramFactory(district=guiyang, status=Program.Status.OPEN),
        official_x=official(jianghan, email="official@jianghan.test"),
        official_wuhan=official(wuhan, email="official@wuhan.test"),
        official_y=official(guiyang, role=Role.AUDITOR, email="official@guiyang.test"),
        ent_admin_x=enterprise_user(ent_jianghan, email="admin@ent-x.test"),
        ent_member_x=enterprise_user(
            ent_jianghan, role=Role.ENTERPRISE_MEMBER, email="member@ent-x.test"
        ),
        ent_admin_y=enterprise_user(ent_guiyang, email="admin@ent-y.test"),
        operator_x=platform_operator(platform_x, email="operator@x.test"),
        operator_y=platform_operator(platform_y, email="operator@y.test"),
        superuser=UserFactory(email="root@platform.test", is_superuser=True),
    )
    membership(w.official_x, Role.REVIEWER, jianghan)
    for program in (w.prog_jianghan, w.prog_guiyang):
        PhaseStep.objects.create(
            program=program, starts_on=timezone.localdate() + 4 * YEAR, rate=Decimal("0")
        )
    audit_record(
        actor=Actor.system("test"), event_type="test.event", obj=None, district_id=jianghan.pk
    )
    return w
