"""Factories of the programs tests: programs, their schedules and bound platforms."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import factory
from django.utils import timezone

from accounts.models import ComputePlatform
from programs.models import PhaseStep, Program
from tests.accounts.factories import DistrictFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR = datetime.timedelta(days=365)


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
