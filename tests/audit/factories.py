"""Factories for the audit tests: districts, enterprises, officials."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import factory
from allauth.mfa.models import Authenticator

from accounts.models import ComputePlatform, District, Enterprise, Membership, User
from accounts.uscc import check_character


def make_uscc(division: str, serial: int) -> str:
    """A valid USCC registered in ``division``."""
    body = f"91{division}{serial:09d}"
    return body + check_character(body)


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{510100 + n * 100}")
    name = factory.Sequence(lambda n: f"测试区{n}")
    name_en = factory.Sequence(lambda n: f"Test district {n}")


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    class Params:
        district: Any = None

    name = factory.Sequence(lambda n: f"测试科技有限公司{n}")
    uscc = factory.LazyAttributeSequence(
        lambda o, n: make_uscc(o.district.code if o.district else "420103", 1000 + n)
    )
    legal_representative = "张三"
    contact_name = "李四"
    contact_phone = "13800000000"
    headcount = 12
    prior_year_revenue = Decimal("1000000.00")
    local_tax_paid = Decimal("50000.00")
    industry = Enterprise.Industry.INFORMATION
    founded_on = datetime.date(2020, 1, 1)


class PlatformFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComputePlatform

    slug = factory.Sequence(lambda n: f"platform-{n}")
    name = factory.Sequence(lambda n: f"算力平台{n}")
    operator = "算力运营有限公司"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Sequence(lambda n: f"User {n}")
    preferred_language = "en"


def official(district: District, role: str = Membership.Role.AUDITOR, **kwargs: Any) -> User:
    """A district official with a TOTP authenticator (the admin requires one)."""
    user = UserFactory(**kwargs)
    Membership.objects.create(user=user, role=role, district=district)
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "X"})
    return user


def superuser(**kwargs: Any) -> User:
    user = UserFactory(is_superuser=True, **kwargs)
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "X"})
    return user


def admin_client(user: User, **defaults: Any) -> Any:
    """A test client signed in as ``user`` (through allauth's backend)."""
    from django.test import Client

    client = Client(**defaults)
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    return client
