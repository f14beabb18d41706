"""factory_boy factories for people and organisations: users, districts,
enterprises, compute platforms and memberships (the models of ``accounts``)."""

from __future__ import annotations

import datetime
import functools
import itertools
from decimal import Decimal
from typing import Any

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import generate_totp_secret
from allauth.mfa.utils import encrypt
from django.contrib.auth.hashers import make_password

from accounts.models import ComputePlatform, District, Enterprise, Membership, User
from accounts.uscc import check_character

PASSWORD = "Correct-Horse-Battery-42"
Role = Membership.Role

# The characters of a USCC (GB 32100-2015): digits and capitals without I, O, S, V, Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_uscc_serials = itertools.count(1)


@functools.cache
def _password_hash() -> str:
    return make_password(PASSWORD)


def make_uscc(division: str = "420103", serial: int | None = None) -> str:
    """A valid USCC of an enterprise registered in ``division``.

    With ``serial`` the organisation code is ``MA`` and the serial in seven
    digits; without, the next of a counter written in USCC characters behind an
    ``X``, so numbers drawn from the counter never meet ones a test chose.
    """
    if serial is not None:
        organisation = f"MA{serial:07d}"
    else:
        n = next(_uscc_serials)
        digits = ""
        for _ in range(6):
            digits = USCC_ALPHABET[n % len(USCC_ALPHABET)] + digits
            n //= len(USCC_ALPHABET)
        organisation = f"MAX{digits}"
    first17 = f"91{division}{organisation}"
    return first17 + check_character(first17)


class UserFactory(factory.django.DjangoModelFactory):
    """A person with a verified e-mail address who signs in with ``PASSWORD``."""

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


def _district_name(code: str, *, english: bool) -> str:
    if code == "420103":
        return "Jianghan District" if english else "江汉区"
    return f"District {code}" if english else f"区{code}"


class DistrictFactory(factory.django.DjangoModelFactory):
    """Jianghan District (420103) unless told another code; one row per code, so
    every ``DistrictFactory()`` of a test is the same district."""

    class Meta:
        model = District
        django_get_or_create = ("code",)

    code = "420103"
    name = factory.LazyAttribute(lambda o: _district_name(o.code, english=False))
    name_en = factory.LazyAttribute(lambda o: _district_name(o.code, english=True))
    parent = None


class EnterpriseFactory(factory.django.DjangoModelFactory):
    """A verified enterprise registered in ``division`` (or in ``district``'s
    division), with its own representative and phone."""

    class Meta:
        model = Enterprise

    class Params:
        division = "420103"
        district: Any = None

    name = factory.Sequence(lambda n: f"测试科技有限公司{n}")
    uscc = factory.LazyAttribute(
        lambda o: make_uscc(o.district.code if o.district is not None else o.division)
    )
    legal_representative = factory.Sequence(lambda n: f"代表人{n}")
    contact_name = "李四"
    contact_phone = factory.Sequence(lambda n: f"027-{n:08d}")
    headcount = 30
    prior_year_revenue = Decimal("6000000.00")
    local_tax_paid = Decimal("100000.00")
    industry = Enterprise.Industry.INFORMATION
    founded_on = datetime.date(2019, 1, 1)
    is_one_person_company = False
    status = Enterprise.Status.VERIFIED


class ComputePlatformFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComputePlatform
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"platform-{n}")
    name = factory.Sequence(lambda n: f"算力平台{n}")
    name_en = factory.Sequence(lambda n: f"Platform {n}")
    operator = "运营公司"
    on_national_list = False


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
