"""Crafted usage for the anomaly detector and flag tests.

Everything goes through the voucher services (issue, redeem), so the data is
what real use leaves; only the clock of each charge (``occurred_at``) is
chosen, always in the past and after the voucher became valid.
"""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import ComputePlatform, Enterprise
from audit.services import Actor
from oversight.detectors import Period
from programs.models import Program
from tests.accounts.factories import ComputePlatformFactory, DistrictFactory, EnterpriseFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue
from vouchers.models import Redemption, Voucher
from vouchers.services import voucher_redeem

SHANGHAI = ZoneInfo("Asia/Shanghai")
_refs = itertools.count(1)
_phones = itertools.count(1000)


def today() -> datetime.date:
    return timezone.localdate()


def at(days_ago: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime.datetime:
    """A moment ``days_ago`` days before today, at a China-time hour."""
    day = today() - datetime.timedelta(days=days_ago)
    return datetime.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


def quiet_day(at_least: int = 2) -> int:
    """Days ago of the latest weekend day at least ``at_least`` days back.

    :func:`normal_month` bills on weekdays only, so a charge on this day is the
    day's whole usage, whatever weekday the tests run on.
    """
    days_ago = at_least
    while at(days_ago).weekday() < 5:
        days_ago += 1
    return days_ago


def last_days(days: int = 30) -> Period:
    """The period of ``days`` days ending yesterday."""
    return Period.ending(today() - datetime.timedelta(days=1), days)


def enterprise(**kwargs: Any) -> Enterprise:
    """An enterprise with its own representative, phone and address."""
    n = next(_phones)
    defaults = {
        "legal_representative": f"代表人{n}",
        "contact_phone": f"027-5555-{n}",
        "address": f"武汉市江汉区测试路{n}号",
    }
    return EnterpriseFactory(**{**defaults, **kwargs})


def setup(
    *,
    unit: str = Program.Unit.CNY,
    face: str | None = None,
    headcount: int = 30,
    district_code: str = "420103",
    kind: str = Program.Kind.COMPUTE,
    platform: ComputePlatform | None = None,
    ent: Enterprise | None = None,
) -> tuple[Voucher, ComputePlatform]:
    """A program bound to a platform and a voucher valid since 60 days ago."""
    district = DistrictFactory(code=district_code)
    program = ProgramFactory(
        district=district,
        unit=unit,
        kind=Program.Kind.TOKEN if unit == Program.Unit.POINTS else kind,
        base_rate=Decimal("1") if unit == Program.Unit.POINTS else Decimal("0.30"),
        total_budget=Decimal("100000000000"),
        per_enterprise_cap=Decimal("100000000000"),
    )
    platform = platform or ComputePlatformFactory()
    bind(program, platform)
    voucher = issue(
        program,
        ent or enterprise(headcount=headcount),
        face or ("1000000000" if unit == Program.Unit.POINTS else "500000.00"),
        valid_from=timezone.now() - datetime.timedelta(days=60),
    )
    voucher.refresh_from_db()
    return voucher, platform


def charge(
    voucher: Voucher,
    platform: ComputePlatform,
    occurred_at: datetime.datetime,
    *,
    billed: str | None = None,
    points: int | None = None,
    usage: list[dict[str, Any]] | None = None,
) -> Redemption:
    result = voucher_redeem(
        actor=Actor.platform_key(f"key-{platform.slug}"),
        platform=platform,
        voucher=voucher,
        reference=f"test-{next(_refs):06d}",
        occurred_at=occurred_at,
        billed_amount=Decimal(billed) if billed is not None else None,
        points_used=points,
        usage=usage or [],
    )
    return Redemption.objects.get(pk=result.id)


def normal_month(
    voucher: Voucher, platform: ComputePlatform, *, days: int = 30, base: int = 1000
) -> list[Redemption]:
    """A working month: one irregular daytime bill on each weekday."""
    rows = []
    for days_ago in range(days, 0, -1):
        moment = at(
            days_ago,
            hour=9 + (days_ago * days_ago) % 8,
            minute=(days_ago * days_ago * 7) % 60,
            second=(days_ago * 31) % 60,
        )
        if moment.weekday() >= 5:
            continue
        amount = base + (days_ago * 137) % 500 + Decimal("0.37")
        if voucher.unit == Program.Unit.POINTS:
            rows.append(charge(voucher, platform, moment, points=int(amount * 1000) + 13))
        else:
            rows.append(charge(voucher, platform, moment, billed=f"{amount:.2f}"))
    return rows
