"""Settlement tests' world: a deduct-at-platform program of Jianghan bound to
one platform, an enterprise's voucher, and the district's reviewer and two
finance officers; charges made at chosen instants of past periods."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import time_machine
from django.utils import timezone

from accounts.models import ComputePlatform, Membership, User
from audit.services import Actor
from programs.models import Program
from settlements.models import Settlement
from settlements.periods import period_of
from settlements.services import settlements_draw
from tests.accounts.factories import ComputePlatformFactory, DistrictFactory, EnterpriseFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import frozen, issue, official, platform_actor
from vouchers.models import Voucher
from vouchers.services import redemption_reverse, voucher_redeem

Role = Membership.Role


@dataclass
class SettleWorld:
    program: Program
    platform: ComputePlatform
    voucher: Voucher
    reviewer: User
    finance: User
    finance_2: User
    manager: User
    operator: User
    outsider_finance: User


def last_month_instant(days_into: int = 3, hour: int = 10) -> datetime.datetime:
    """An instant inside last month (Shanghai), whatever today is."""
    today = timezone.localdate()
    first = period_of(today, "month").first_day
    last_month = period_of(first - datetime.timedelta(days=1), "month")
    day = last_month.first_day + datetime.timedelta(days=days_into)
    tz = timezone.get_default_timezone()
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=tz)


def build(*, threshold: Decimal | None = None, face_value: str = "100000.00") -> SettleWorld:
    from tests.accounts.factories import platform_operator

    jianghan = DistrictFactory(code="420103")
    other = DistrictFactory(code="520100")
    platform = ComputePlatformFactory()
    program = ProgramFactory(
        district=jianghan,
        settlement_four_eyes_threshold=threshold,
        voucher_validity_days=400,
        base_rate=Decimal("0.30"),
        per_charge_cap=None,
    )
    bind(program, platform)
    before = last_month_instant(days_into=0, hour=1) - datetime.timedelta(days=1)
    with frozen(before):
        voucher = issue(program, EnterpriseFactory(), face_value, valid_from=before)
    return SettleWorld(
        program=program,
        platform=platform,
        voucher=voucher,
        reviewer=official(jianghan, Role.REVIEWER),
        finance=official(jianghan, Role.FINANCE_OFFICER),
        finance_2=official(jianghan, Role.FINANCE_OFFICER),
        manager=official(jianghan, Role.PROGRAM_MANAGER),
        operator=platform_operator(platform),
        outsider_finance=official(other, Role.FINANCE_OFFICER),
    )


def charge(world: SettleWorld, *, billed: str, reference: str, at: datetime.datetime) -> Any:
    """A charge recorded at ``at`` (its usage at the same instant)."""
    with time_machine.travel(at, tick=False):
        return voucher_redeem(
            actor=platform_actor(world.platform),
            platform=world.platform,
            voucher_code=world.voucher.code,
            reference=reference,
            occurred_at=at,
            billed_amount=Decimal(billed),
        )


def refund(
    world: SettleWorld, redemption_id: int, *, amount: str, reference: str, at: datetime.datetime
) -> Any:
    with time_machine.travel(at, tick=False):
        return redemption_reverse(
            actor=platform_actor(world.platform),
            platform=world.platform,
            redemption_id=redemption_id,
            amount=Decimal(amount),
            reference=reference,
            reason="customer refund",
        )


def drawn(world: SettleWorld) -> Settlement:
    """Draw now and return the world's one settlement of last month."""
    settlements_draw()
    return Settlement.objects.get(platform=world.platform, program=world.program)


def actor(user: User) -> Actor:
    return Actor.for_user(user)


def settlement_of_last_month(program: Program, platform: ComputePlatform, enterprise: Any) -> Any:
    """A draft settlement of ``platform`` × ``program`` for last month with
    two charges in it (the program bound to the platform for the purpose)."""
    bind(program, platform)
    at = last_month_instant()
    with time_machine.travel(at - datetime.timedelta(days=1), tick=False):
        voucher = issue(program, enterprise, "10000.00")
    for n in (1, 2):
        with time_machine.travel(at, tick=False):
            voucher_redeem(
                actor=platform_actor(platform),
                platform=platform,
                voucher_code=voucher.code,
                reference=f"matrix-{n}",
                occurred_at=at,
                billed_amount=Decimal("1000.00"),
            )
    settlements_draw()
    return Settlement.objects.get(program=program, platform=platform)
