"""Factories for programs, rule sets, enterprises, officials and applications."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from typing import Any

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import District, Enterprise, Membership, User
from accounts.uscc import check_character
from applications.models import Application, ApplicationDocument
from eligibility.models import RuleNode, RuleSet, definition_to_rows
from programs.models import PhaseStep, Program

_serial = itertools.count(1)
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def make_uscc(division: str = "420103") -> str:
    n = next(_serial)
    serial = ""
    for _ in range(7):
        serial = ALPHABET[n % 31] + serial
        n //= 31
    first17 = f"91{division}MA{serial}"
    return first17 + check_character(first17)


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    code = "420103"
    name = factory.LazyAttribute(lambda o: f"区{o.code}")
    name_en = factory.LazyAttribute(lambda o: f"District {o.code}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Sequence(lambda n: f"User {n}")
    preferred_language = "en"
    password = factory.django.Password("pw-Test-12345")


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    class Params:
        division = "420103"

    name = factory.Sequence(lambda n: f"Enterprise {n} Ltd")
    uscc = factory.LazyAttribute(lambda o: make_uscc(o.division))
    legal_representative = factory.Sequence(lambda n: f"Rep {n}")
    contact_name = "Contact"
    contact_phone = factory.Sequence(lambda n: f"027-{n:08d}")
    headcount = 30
    prior_year_revenue = Decimal("6000000")
    local_tax_paid = Decimal("100000")
    industry = Enterprise.Industry.INFORMATION
    founded_on = datetime.date(2019, 1, 1)
    is_one_person_company = False
    status = Enterprise.Status.VERIFIED


def member(enterprise: Enterprise, **kwargs: Any) -> User:
    user = UserFactory(**kwargs)
    Membership.objects.create(
        user=user, role=Membership.Role.ENTERPRISE_ADMIN, enterprise=enterprise
    )
    return user


def official(district: District, *roles: str, **kwargs: Any) -> User:
    user = UserFactory(**kwargs)
    for role in roles or (Membership.Role.REVIEWER,):
        Membership.objects.create(user=user, role=role, district=district)
    return user


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    district = factory.SubFactory(DistrictFactory)
    name = factory.Sequence(lambda n: f"项目{n}")
    name_en = factory.Sequence(lambda n: f"Program {n}")
    kind = Program.Kind.COMPUTE
    unit = Program.Unit.CNY
    total_budget = Decimal("1000000")
    per_enterprise_cap = Decimal("300000")
    base_rate = Decimal("0.30")
    application_opens_on = factory.LazyFunction(
        lambda: timezone.localdate() - datetime.timedelta(days=30)
    )
    application_closes_on = factory.LazyFunction(
        lambda: timezone.localdate() + datetime.timedelta(days=60)
    )


def with_schedule(program: Program, *, exit_on: datetime.date | None = None) -> Program:
    """Give a program a descending schedule ending in an exit."""
    today = timezone.localdate()
    PhaseStep.objects.create(
        program=program, starts_on=today.replace(day=1), rate=program.base_rate
    )
    PhaseStep.objects.create(
        program=program,
        starts_on=exit_on or datetime.date(today.year + 2, 1, 1),
        rate=Decimal("0"),
    )
    return program


def open_program(**kwargs: Any) -> Program:
    """A program with a schedule, opened in the database (tests of other services)."""
    program = with_schedule(ProgramFactory(**kwargs))
    Program.objects.filter(pk=program.pk).update(status=Program.Status.OPEN)
    program.refresh_from_db()
    return program


def rule_set(district: District, definition: dict[str, Any], name: str = "Rules") -> RuleSet:
    rs = RuleSet.objects.create(district=district, name=name, name_en=name)
    combinator, rows = definition_to_rows(definition)
    rs.combinator = combinator
    rs.save()
    RuleNode.objects.bulk_create([RuleNode(rule_set=rs, **row) for row in rows])
    return rs


def pdf_upload(name: str = "licence.pdf") -> ContentFile:
    return ContentFile(PDF_BYTES, name=name)


def application(
    enterprise: Enterprise,
    program: Program,
    *,
    status: str = Application.Status.DRAFT,
    amount: Decimal = Decimal("100000"),
    with_document: bool = True,
) -> Application:
    """An application put straight into ``status`` (for tests of later steps)."""
    app = Application.objects.create(
        enterprise=enterprise, program=program, requested_amount=amount, purpose="Training a model."
    )
    if with_document:
        doc = ApplicationDocument(
            application=app,
            original_name="licence.pdf",
            content_type="application/pdf",
            size=len(PDF_BYTES),
            sha256="0" * 64,
        )
        doc.file.save("licence.pdf", ContentFile(PDF_BYTES), save=False)
        doc.save()
    if status != Application.Status.DRAFT:
        Application.objects.filter(pk=app.pk).update(status=status, submitted_at=timezone.now())
        app.refresh_from_db()
    return app


def with_mfa(user: User) -> User:
    """Officials need TOTP before the admin lets them in."""
    from allauth.mfa.models import Authenticator

    Authenticator.objects.get_or_create(
        user=user, type=Authenticator.Type.TOTP, defaults={"data": {"secret": "JBSWY3DPEHPK3PXP"}}
    )
    return user


BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def client_for(user: User) -> Any:
    """A test client signed in as ``user`` (through allauth's backend)."""
    from django.test import Client

    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


def reauthenticated(client: Any, user: User) -> Any:
    """Record in ``client``'s session that ``user`` just re-entered a credential,
    as allauth's re-authentication page does (needed to change budgets and rates)."""
    import time

    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY,
        AUTHENTICATION_METHODS_SESSION_KEY,
    )
    from allauth.account.internal.userkit import user_id_to_str

    session = client.session
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = user_id_to_str(user)
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time(), "reauthenticated": True}
    ]
    session.save()
    return client
