"""Factories and helpers for the voucher tests (ledger, holds, redemptions)."""

from __future__ import annotations

import contextlib
import datetime
import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import factory
from django.utils import timezone

from accounts.models import ComputePlatform, District, Enterprise, Membership, User
from accounts.uscc import check_character
from audit.services import Actor
from programs.models import PhaseStep, Program
from vouchers.models import Voucher
from vouchers.services import voucher_issue

SHANGHAI = ZoneInfo("Asia/Shanghai")
_serial = itertools.count(1)
_ALNUM = "0123456789ABCDEFGHJKLMNPQRTUWXY"

YEAR = datetime.timedelta(days=365)


def make_uscc(division: str = "420103") -> str:
    n = next(_serial)
    serial = ""
    for _ in range(7):
        serial = _ALNUM[n % len(_ALNUM)] + serial
        n //= len(_ALNUM)
    first17 = f"91{division}MA{serial}"
    return first17 + check_character(first17)


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    code = "420103"
    name = "江汉区"
    name_en = "Jianghan District"


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    name = factory.Sequence(lambda n: f"武汉测试科技有限公司{n}")
    uscc = factory.LazyFunction(make_uscc)
    legal_representative = "陈立华"
    contact_name = "周敏"
    contact_phone = "027-0000-0000"
    contact_email = factory.Sequence(lambda n: f"contact{n}@example.com")
    headcount = 30
    prior_year_revenue = Decimal("8000000")
    local_tax_paid = Decimal("400000")
    industry = Enterprise.Industry.INFORMATION
    founded_on = datetime.date(2019, 5, 14)
    status = Enterprise.Status.VERIFIED


class PlatformFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComputePlatform

    slug = factory.Sequence(lambda n: f"platform-{n}")
    name = factory.Sequence(lambda n: f"算力平台{n}")
    name_en = factory.Sequence(lambda n: f"Compute platform {n}")
    operator = "运营公司"


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program
        skip_postgeneration_save = True

    district = factory.SubFactory(DistrictFactory)
    name = factory.Sequence(lambda n: f"江汉区算力券{n}")
    name_en = factory.Sequence(lambda n: f"Jianghan Compute Vouchers {n}")
    kind = Program.Kind.COMPUTE
    unit = Program.Unit.CNY
    total_budget = Decimal("1000000.00")
    per_enterprise_cap = Decimal("500000.00")
    per_charge_cap = None
    base_rate = Decimal("0.30")
    # Relative to today (Shanghai): the programs accept applications whatever
    # day the tests run on.
    application_opens_on = factory.LazyFunction(lambda: timezone.localdate() - 3 * YEAR)
    application_closes_on = factory.LazyFunction(lambda: timezone.localdate() + 3 * YEAR)
    voucher_validity_days = 365

    @factory.post_generation
    def open_it(obj: Program, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted is not False:
            Program.objects.filter(pk=obj.pk).update(status=Program.Status.OPEN)
            obj.refresh_from_db()


def bind(program: Program, *platforms: ComputePlatform) -> None:
    program.platforms.add(*platforms)


def add_steps(program: Program, *steps: tuple[datetime.date, str]) -> None:
    for day, rate in steps:
        PhaseStep.objects.create(program=program, starts_on=day, rate=Decimal(rate))


SYSTEM = Actor.system("tests")


def platform_actor(platform: ComputePlatform) -> Actor:
    return Actor.platform_key(
        f"key-{platform.slug}",
        evidence={"signature_input": "sig1=(...)", "signature": "sig1=:AAAA:", "key_id": "k"},
    )


def issue(
    program: Program,
    enterprise: Enterprise | None = None,
    amount: str | Decimal = "1000.00",
    *,
    valid_from: datetime.datetime | None = None,
) -> Voucher:
    return voucher_issue(
        actor=SYSTEM,
        program=program,
        enterprise=enterprise or EnterpriseFactory(),
        amount=Decimal(amount),
        from_reservation=False,
        valid_from=valid_from,
    )


def official(district: District, *roles: str, email: str | None = None) -> User:
    user = User.objects.create_user(email or f"official{next(_serial)}@example.gov.cn", None)
    for role in roles or (Membership.Role.PROGRAM_MANAGER,):
        Membership.objects.create(user=user, role=role, district=district)
    return user


@contextlib.contextmanager
def frozen(at: datetime.datetime) -> Iterator[None]:
    """Patch the clock (the one boundary these tests patch)."""
    with mock.patch.object(timezone, "now", return_value=at):
        yield


def shanghai(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]
