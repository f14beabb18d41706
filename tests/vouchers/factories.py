"""Factories and helpers for the voucher tests (ledger, holds, redemptions), and
for now those of programs and applications, in sections of their own.

People and organisations come from ``tests.accounts.factories``, rule sets from
``tests.eligibility.factories``.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import ComputePlatform, District, Enterprise, Membership, User
from applications.models import Application, ApplicationDocument
from audit.services import Actor
from programs.models import PhaseStep, Program
from tests.accounts.factories import DistrictFactory, EnterpriseFactory, UserFactory
from vouchers.models import Voucher
from vouchers.services import voucher_issue

SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR = datetime.timedelta(days=365)


# people
#
# Officials and enterprise members of the program, application and voucher
# tests: they read their e-mails in English.


def member(enterprise: Enterprise, **kwargs: Any) -> User:
    """An administrator of ``enterprise``."""
    user = UserFactory(**{"preferred_language": "en", **kwargs})
    Membership.objects.create(
        user=user, role=Membership.Role.ENTERPRISE_ADMIN, enterprise=enterprise
    )
    return user


def official(district: District, *roles: str, **kwargs: Any) -> User:
    """An official of ``district`` with ``roles`` (a reviewer if none)."""
    user = UserFactory(**{"preferred_language": "en", **kwargs})
    for role in roles or (Membership.Role.REVIEWER,):
        Membership.objects.create(user=user, role=role, district=district)
    return user


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


# programs


class ProgramFactory(factory.django.DjangoModelFactory):
    """An open program of Jianghan District without a phase-down schedule.

    ``draft=True`` leaves it a draft; ``application_round=True`` gives it the
    terms the application tests count on: 300,000 per enterprise, applications
    taken from 30 days ago to 60 days ahead.
    """

    class Meta:
        model = Program

    class Params:
        draft = factory.Trait(status=Program.Status.DRAFT)
        application_round = factory.Trait(
            per_enterprise_cap=Decimal("300000"),
            application_opens_on=factory.LazyFunction(
                lambda: timezone.localdate() - datetime.timedelta(days=30)
            ),
            application_closes_on=factory.LazyFunction(
                lambda: timezone.localdate() + datetime.timedelta(days=60)
            ),
        )

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
    status = Program.Status.OPEN

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Program:
        # The status is a protected FSM field: the program is created a draft
        # and its status set in the database.
        status = kwargs.pop("status")
        program = super()._create(model_class, *args, **kwargs)
        if status != Program.Status.DRAFT:
            Program.objects.filter(pk=program.pk).update(status=status)
            program.refresh_from_db()
        return program


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
    """An open program with a schedule and the application tests' terms."""
    return with_schedule(ProgramFactory(application_round=True, **kwargs))


def add_steps(program: Program, *steps: tuple[datetime.date, str]) -> None:
    for day, rate in steps:
        PhaseStep.objects.create(program=program, starts_on=day, rate=Decimal(rate))


def bind(program: Program, *platforms: ComputePlatform) -> None:
    program.platforms.add(*platforms)


# applications

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


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


# vouchers

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


@contextlib.contextmanager
def frozen(at: datetime.datetime) -> Iterator[None]:
    """Patch the clock (the one boundary these tests patch)."""
    with mock.patch.object(timezone, "now", return_value=at):
        yield


def shanghai(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]
