"""A month of demo usage with planted frauds, and the detectors run over it.

Charges go through :func:`vouchers.services.voucher_redeem` (usage
lines priced with the platform's catalog, as the API would), spread over the
last 30 days: ``occurred_at`` is always in the past and after the voucher's
``valid_from`` (the vouchers start valid 31 days back). One thing the demo
cannot wait for is arranged as in :mod:`demo.seed_vouchers`: the drained
voucher's end of validity is moved two days ahead with a plain update.

The stories (one new voucher each, issued by ``ISSUER``):

- ``clean``: Zhucheng Data, Guiyang — a normal working month; nothing flagged.
- ``spike-night``: Wuchang Label, Wuhan — a normal month, one day at about
  ten times its median, and four charges between 02:00 and 04:00.
- ``one-person``: Chutian (a one-person company), Jianghan data — round
  thousand-yuan bills of up to 15,000 CNY a day for one head.
- ``even-price``: Hanjiang, Jianghan model — bills every 24 hours to the
  second, each 20 % above the catalog price of its tokens.
- ``points-drift``: Hanjiang, Jianghan token — Wuhan AICC charges 15 % more
  points than its catalog gives; the Jianghan platform charges correctly.
- ``drain``: Wuchang Label, Jianghan compute — 75 % of the face value used
  in the last three days before expiry.
- ``related``: Jianghan Ciyuan, which operates the Jianghan token platform
  and shares Hanjiang's legal representative — charged on its own platform.
- ``twice-funded``: Zhucheng Data also holds a Wuhan compute voucher (no
  usage), so two districts fund the same USCC for compute.

Idempotent: when the story vouchers exist the usage is left as it is, and
detection files nothing it already filed. Detection runs last
(:func:`demo_anomalies`), once the demo's settlements are made too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import ComputePlatform, Enterprise
from audit.services import Actor
from oversight.flags import anomalies_detect
from oversight.models import AnomalyFlag
from platforms.catalog import usage_to_points
from platforms.selectors import catalog_entry_in_force
from programs.models import Program
from vouchers.models import Voucher
from vouchers.services import voucher_issue, voucher_redeem

ISSUER = "demo seed usage"
DAYS = 30
CENT = Decimal("0.01")

# key, program name part, enterprise key, face value, platform slug (None: the first bound)
STORIES: list[tuple[str, str, str, str, str | None]] = [
    ("clean", "贵阳市算力券", "zhucheng-data", "100000.00", None),
    ("spike-night", "武汉市算力券", "wuchang-label", "150000.00", "wuhan-aicc"),
    ("one-person", "江汉区数据券", "chutian-opc", "150000.00", None),
    ("even-price", "江汉区模型券", "hanjiang", "100000.00", "jianghan-token"),
    ("points-drift", "江汉区词元券", "hanjiang", "200000000", None),
    ("drain", "江汉区算力券", "wuchang-label", "60000.00", None),
    ("related", "江汉区模型券", "jianghan-ciyuan", "50000.00", "jianghan-token"),
    ("twice-funded", "武汉市算力券", "zhucheng-data", "20000.00", None),
]


def _at(days_ago: int, hour: int, minute: int = 0, second: int = 0) -> datetime.datetime:
    """``days_ago`` days before today at a China-time hour (always in the past)."""
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    return datetime.datetime(
        day.year, day.month, day.day, hour, minute, second, tzinfo=timezone.get_current_timezone()
    )


def _workdays(skip_weekends: bool = True) -> list[int]:
    days = []
    for days_ago in range(DAYS, 0, -1):
        if skip_weekends and _at(days_ago, 12).weekday() >= 5:
            continue
        days.append(days_ago)
    return days


def _office_time(days_ago: int) -> datetime.datetime:
    """An irregular moment of an office day (09:00–18:59)."""
    return _at(days_ago, 9 + (days_ago * days_ago) % 10, (days_ago * 17) % 60, (days_ago * 31) % 60)


class _Charger:
    """Charges one voucher on one platform with numbered references."""

    def __init__(self, key: str, voucher: Voucher, platform: ComputePlatform) -> None:
        self.key, self.voucher, self.platform = key, voucher, platform
        self.count = 0
        self.actor = Actor.platform_key(f"demo-{platform.slug}")

    def __call__(
        self,
        occurred_at: datetime.datetime,
        *,
        billed: Decimal | None = None,
        points: int | None = None,
        usage: list[dict[str, Any]] | None = None,
    ) -> None:
        self.count += 1
        voucher_redeem(
            actor=self.actor,
            platform=self.platform,
            voucher=self.voucher,
            reference=f"usage-{self.key}-{self.count:04d}",
            occurred_at=occurred_at,
            billed_amount=billed,
            points_used=points,
            usage=usage or [],
        )

    def priced(
        self, model: str, input_tokens: int, output_tokens: int, on: datetime.datetime
    ) -> tuple[Decimal, list[dict[str, Any]]]:
        """The catalog price (CNY) and the priced usage line, as the API prices them."""
        _total, lines = usage_to_points(
            self.platform,
            [{"model": model, "input_tokens": input_tokens, "output_tokens": output_tokens}],
            on,
        )
        entry = catalog_entry_in_force(self.platform, model, on=on)
        assert entry is not None
        price = (
            input_tokens * entry.price_input_per_1k + output_tokens * entry.price_output_per_1k
        ) / 1000
        return price.quantize(CENT), [line.as_dict() for line in lines]


def _normal_month(charge: _Charger, low: int, spread: int) -> None:
    for days_ago in _workdays():
        amount = Decimal(low + (days_ago * 389) % spread) + Decimal(days_ago * 7 % 100) / 100
        charge(_office_time(days_ago), billed=amount)


def _clean(charge: _Charger) -> None:
    _normal_month(charge, 2000, 4000)


def _spike_night(charge: _Charger) -> None:
    _normal_month(charge, 3000, 2000)
    charge(_at(3, 11, 24, 51), billed=Decimal("45000.00"))  # ≈ 11× the median day
    for days_ago, hour in ((9, 2), (8, 3), (6, 2), (4, 3)):
        charge(_at(days_ago, hour, 10 + days_ago, days_ago), billed=Decimal("6180.40"))


def _one_person(charge: _Charger) -> None:
    # Round thousands, up to 15,000 CNY a day for a one-person company.
    for days_ago, amount in (
        (26, 8000),
        (22, 10000),
        (17, 12000),
        (12, 9000),
        (8, 15000),
        (5, 10000),
    ):
        charge(_office_time(days_ago), billed=Decimal(amount))


def _even_price(charge: _Charger) -> None:
    # Every 24 hours to the second, 20 % above the catalog price of the tokens.
    for i, days_ago in enumerate(range(10, 3, -1)):
        at = _at(days_ago, 14, 5, 33)
        price, usage = charge.priced(
            "kimi-k2.5", 180_000_000 + i * 7_340_111, 36_000_000 + i * 911_337, at
        )
        charge(at, billed=(price * Decimal("1.2")).quantize(CENT), usage=usage)


def _points_drift(charge: _Charger, honest: _Charger) -> None:
    for days_ago in _workdays()[-12:]:
        at = _office_time(days_ago)
        tokens_in, tokens_out = 2_000_000 + days_ago * 73_311, 400_000 + days_ago * 9_173
        _price, usage = honest.priced("glm-5", tokens_in, tokens_out, at)
        honest(at, points=usage[0]["points"], usage=usage)
        later = at + datetime.timedelta(minutes=47 + days_ago)
        _price, usage = charge.priced("glm-5", tokens_in // 2, tokens_out // 2, later)
        usage[0]["points"] = int(usage[0]["points"] * Decimal("1.15"))
        charge(later, points=usage[0]["points"], usage=usage)


def _drain(charge: _Charger) -> None:
    charge(_office_time(24), billed=Decimal("3150.20"))
    charge(_office_time(15), billed=Decimal("2270.90"))
    # The voucher ends in two days; 3 × 15,000 CNY covered = 75 % of 60,000.
    Voucher.objects.filter(pk=charge.voucher.pk).update(
        expires_at=timezone.now() + datetime.timedelta(days=2)
    )
    charge.voucher.refresh_from_db()
    for days_ago, hour in ((3, 10), (2, 15), (1, 11)):
        charge(_at(days_ago, hour, 7 * days_ago, 13), billed=Decimal("50000.00"))


def _related(charge: _Charger) -> None:
    for days_ago, amount in ((21, "4120.50"), (14, "6380.00"), (7, "5210.75"), (2, "7790.10")):
        charge(_office_time(days_ago), billed=Decimal(amount))


def _platform(program: Program, slug: str | None) -> ComputePlatform:
    platforms = program.platforms.order_by("slug")
    platform = platforms.filter(slug=slug).first() if slug else platforms.first()
    assert platform is not None, program.name
    return platform


def seed_usage(
    *, programs: list[Program], enterprises: list[Enterprise], uscc_by_key: dict[str, str]
) -> None:
    """Issue the story vouchers and their usage (once)."""
    if not Voucher.objects.filter(issued_by=ISSUER).exists():
        _seed_stories(programs=programs, enterprises=enterprises, uscc_by_key=uscc_by_key)


def demo_anomalies() -> list[dict[str, Any]]:
    """Run the detectors over the last 30 days and return every flag for
    ``seed_demo --json``."""
    anomalies_detect(
        day=timezone.localdate() - datetime.timedelta(days=1),
        days=DAYS,
        actor=Actor.system("seed_demo"),
    )
    return [
        {
            "id": f.pk,
            "detector": f.detector,
            "district": f.district.code,
            "subject": f.subject,
            "period": [f.period_start.isoformat(), f.period_end.isoformat()],
            "score": f"{f.score.normalize():f}",
            "status": f.status,
        }
        for f in AnomalyFlag.objects.select_related("district").order_by("id")
    ]


def _seed_stories(
    *, programs: list[Program], enterprises: list[Enterprise], uscc_by_key: dict[str, str]
) -> None:
    by_uscc = {e.uscc: e for e in enterprises}
    valid_from = timezone.now() - datetime.timedelta(days=DAYS + 1)
    chargers: dict[str, _Charger] = {}
    for key, program_name, enterprise_key, face, slug in STORIES:
        program = next(p for p in programs if program_name in p.name)
        voucher = voucher_issue(
            actor=Actor.system(ISSUER),
            program=program,
            enterprise=by_uscc[uscc_by_key[enterprise_key]],
            amount=Decimal(face),
            from_reservation=False,
            valid_from=valid_from,
        )
        chargers[key] = _Charger(key, voucher, _platform(program, slug))
    stories: dict[str, Callable[[_Charger], None]] = {
        "clean": _clean,
        "spike-night": _spike_night,
        "one-person": _one_person,
        "even-price": _even_price,
        "drain": _drain,
        "related": _related,
    }
    for key, story in stories.items():
        story(chargers[key])
    drift = chargers["points-drift"]
    honest = _Charger(
        "points-honest", drift.voucher, _platform(drift.voucher.program, "jianghan-token")
    )
    inflating = _Charger(
        "points-drift", drift.voucher, _platform(drift.voucher.program, "wuhan-aicc")
    )
    _points_drift(inflating, honest)
