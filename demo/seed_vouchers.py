"""Demo vouchers in every state, with some usage history.

Everything goes through the voucher services (issue, redeem, hold, reverse,
suspend, revoke, claw back, expire), so the ledger, the budgets and the
audit log are exactly what real use would leave, and ``check_ledger`` is
clean. Two things the demo cannot wait for are arranged: vouchers start
valid some weeks back (``valid_from`` in the past), and the expired voucher's
validity window is moved into the past with a plain update just before the
expiry service runs on it.

Idempotent: a demo voucher is found again by program, enterprise, face value
and issuer; an existing one is left as it is.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import ComputePlatform, Enterprise, User
from audit.services import Actor
from programs.models import Program
from vouchers.models import Voucher
from vouchers.services import (
    format_amount,
    hold_create,
    redemption_reverse,
    voucher_claw_back,
    voucher_expire,
    voucher_issue,
    voucher_redeem,
    voucher_revoke,
    voucher_suspend,
)

ISSUER = "demo seed"

# (key, program name prefix, enterprise USCC key, face value, story)
SPECS: list[tuple[str, str, str, str, str]] = [
    ("hanjiang-compute", "江汉区算力券", "hanjiang", "300000.00", "busy"),
    ("hanjiang-token", "江汉区词元券", "hanjiang", "50000000", "points"),
    ("chutian-wuhan", "武汉市算力券", "chutian-opc", "50000.00", "future"),
    ("wuchang-wuhan", "武汉市算力券", "wuchang-label", "80000.00", "suspended"),
    ("zhucheng-guiyang", "贵阳市算力券", "zhucheng-data", "20000.00", "exhausted"),
    ("baoding-main", "保定市数智券", "baoding-annotate", "300000.00", "busy-small"),
    ("hanjiang-model", "江汉区模型券", "hanjiang", "60000.00", "clawback"),
    ("chutian-data", "江汉区数据券", "chutian-opc", "20000.00", "expired"),
    ("wuchang-model", "江汉区模型券", "wuchang-label", "30000.00", "revoked"),
]

OFFICIAL_BY_DISTRICT = {
    "420100": "official@wuhan.example.gov.cn",
    "420103": "official@jianghan.example.gov.cn",
    "520100": "official@guiyang.example.gov.cn",
    "130600": "official@baoding.example.gov.cn",
}


def _platform_actor(platform: ComputePlatform) -> Actor:
    return Actor.platform_key(f"demo-{platform.slug}")


def _charge(
    voucher: Voucher,
    platform: ComputePlatform,
    reference: str,
    *,
    days_ago: float,
    billed: str | None = None,
    points: int | None = None,
) -> Any:
    usage = (
        [{"model": "Kimi-K2.5", "input_tokens": points or 0, "output_tokens": 0}] if points else []
    )
    return voucher_redeem(
        actor=_platform_actor(platform),
        platform=platform,
        voucher=voucher,
        reference=reference,
        occurred_at=timezone.now() - datetime.timedelta(days=days_ago),
        billed_amount=Decimal(billed) if billed else None,
        points_used=points,
        usage=usage,
    )


def _story(voucher: Voucher, key: str, story: str, platform: ComputePlatform) -> None:
    district_code = voucher.program.district.code
    official = Actor.for_user(User.objects.get(email=OFFICIAL_BY_DISTRICT[district_code]))
    if story in {"busy", "busy-small"}:
        bills = ["18400.00", "9650.00", "42000.00", "12800.50", "7300.00", "26000.00"]
        if story == "busy-small":
            bills = bills[:3]
        results = [
            # A few minutes' jitter: real invoices are not exactly three days apart.
            _charge(
                voucher,
                platform,
                f"{key}-inv-{i + 1:04d}",
                days_ago=20 - 3 * i + (i * i % 5) * 0.0071,
                billed=bill,
            )
            for i, bill in enumerate(bills)
        ]
        redemption_reverse(
            actor=_platform_actor(platform),
            platform=platform,
            redemption_id=results[1].id,
            amount=Decimal("500.00"),
            reference=f"{key}-refund-0001",
            reason="GPU node failure, job re-run free of charge",
        )
        hold_create(
            actor=_platform_actor(platform),
            platform=platform,
            voucher=voucher,
            reference=f"{key}-job-train-0007",
            amount=Decimal("8000.00"),
            expires_in=86400,
        )
    elif story == "points":
        for i, points in enumerate([1_250_000, 3_400_000, 820_000, 5_100_000]):
            _charge(
                voucher, platform, f"{key}-batch-{i + 1:04d}", days_ago=12 - 3 * i, points=points
            )
    elif story == "suspended":
        _charge(voucher, platform, f"{key}-inv-0001", days_ago=9, billed="15000.00")
        voucher_suspend(
            actor=official,
            voucher=voucher,
            reason="用量在凌晨集中出现，待企业说明 / Usage concentrated at night; awaiting explanation",
        )
    elif story == "exhausted":
        _charge(voucher, platform, f"{key}-inv-0001", days_ago=6, billed="40000.00")
        _charge(voucher, platform, f"{key}-inv-0002", days_ago=2, billed="40000.00")
    elif story == "clawback":
        _charge(voucher, platform, f"{key}-inv-0001", days_ago=15, billed="30000.00")
        _charge(voucher, platform, f"{key}-inv-0002", days_ago=5, billed="20000.00")
        voucher_claw_back(
            actor=official,
            voucher=voucher,
            reason="企业迁出江汉区，违反三年留存承诺 / Moved out of the district within the 3-year obligation",
        )
    elif story == "expired":
        _charge(voucher, platform, f"{key}-inv-0001", days_ago=20, billed="8000.00")
        # The demo cannot wait a year: move the validity into the past,
        # then let the expiry service do what the periodic task does.
        past = timezone.now() - datetime.timedelta(days=1)
        Voucher.objects.filter(pk=voucher.pk).update(
            valid_from=voucher.valid_from - datetime.timedelta(days=400), expires_at=past
        )
        voucher_expire(voucher_id=voucher.pk)
    elif story == "revoked":
        voucher_revoke(
            actor=official,
            voucher=voucher,
            reason="同一项目已获他区资助 / Same project already funded by another district",
        )


def seed_vouchers(
    *,
    programs: list[Program],
    enterprises: list[Enterprise],
    uscc_by_key: dict[str, str],
) -> list[dict[str, Any]]:
    """Issue the demo vouchers (once) and return them for ``seed_demo --json``."""
    actor = Actor.system("demo-seed")
    by_uscc = {e.uscc: e for e in enterprises}
    for key, program_name, enterprise_key, face, story in SPECS:
        program = next(p for p in programs if program_name in p.name)
        enterprise = by_uscc[uscc_by_key[enterprise_key]]
        existing = Voucher.objects.filter(
            program=program, enterprise=enterprise, face_value=Decimal(face), issued_by=ISSUER
        )
        if existing.exists():
            continue
        now = timezone.now()
        valid_from = (
            now + datetime.timedelta(days=20)
            if story == "future"
            else now - datetime.timedelta(days=30)
        )
        voucher = voucher_issue(
            actor=Actor(kind=actor.kind, label=ISSUER),
            program=program,
            enterprise=enterprise,
            amount=Decimal(face),
            from_reservation=False,
            valid_from=valid_from,
        )
        platform = program.platforms.order_by("slug").first()
        if platform is not None and story != "future":
            _story(voucher, key, story, platform)
    demo = (
        Voucher.objects.filter(issued_by=ISSUER)
        .select_related("program")
        .prefetch_related("program__platforms")
        .order_by("id")
    )
    return [
        {
            "code": v.code,
            "status": v.status,
            "unit": v.unit,
            "balance": format_amount(v.available, v.unit),
            "held": format_amount(v.held, v.unit),
            "enterprise": v.enterprise_id,
            "program": v.program_id,
            "platforms": sorted(p.slug for p in v.program.platforms.all()),
        }
        for v in demo
    ]
