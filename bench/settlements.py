"""How long drawing a month's settlement takes, and its statement PDF, for a
platform with many charges.

Run against PostgreSQL:

    DATABASE_URL=postgres://... python bench/settlements.py [--charges 20000] [--vouchers 500]

The charges are made through the voucher services (usage batches of 1,000,
recorded last month with time-machine), then the settlement is drawn and its
statement printed. Everything happens in one transaction that is rolled back
at the end (the audit log's append-only triggers refuse deletes). Prints one
line per figure.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

import time_machine  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import ComputePlatform, District  # noqa: E402
from audit.services import Actor  # noqa: E402
from programs.models import Program  # noqa: E402
from settlements.documents import statement_pdf  # noqa: E402
from settlements.models import Settlement  # noqa: E402
from settlements.periods import period_of  # noqa: E402
from settlements.services import (  # noqa: E402
    settlement_line_reject,
    settlement_start_review,
    settlement_submit,
    settlements_draw,
)
from tests.accounts.factories import EnterpriseFactory  # noqa: E402
from vouchers.services import voucher_issue  # noqa: E402
from vouchers.services.charge import RedeemInput, voucher_redeem_batch  # noqa: E402


class Rollback(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--charges", type=int, default=20_000)
    parser.add_argument("--vouchers", type=int, default=500)
    args = parser.parse_args()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    system = Actor.system("bench")
    today = timezone.localdate()
    last_month = period_of(
        period_of(today, "month").first_day - datetime.timedelta(days=1), "month"
    )
    at = datetime.datetime.combine(
        last_month.first_day + datetime.timedelta(days=2),
        datetime.time(10),
        tzinfo=timezone.get_default_timezone(),
    )
    try:
        with transaction.atomic():
            district, _ = District.objects.get_or_create(
                code="420103", defaults={"name": "江汉区", "name_en": "Jianghan"}
            )
            platform = ComputePlatform.objects.create(
                slug="bench-settle", name="基准平台", operator="基准平台有限公司"
            )
            program = Program.objects.create(
                district=district,
                name="基准算力券",
                kind=Program.Kind.COMPUTE,
                total_budget=Decimal("1000000000"),
                per_enterprise_cap=Decimal("10000000"),
                base_rate=Decimal("0.30"),
                application_opens_on=today - datetime.timedelta(days=400),
                application_closes_on=today + datetime.timedelta(days=400),
                voucher_validity_days=800,
            )
            Program.objects.filter(pk=program.pk).update(status=Program.Status.OPEN)
            program.refresh_from_db()
            program.platforms.add(platform)
            codes = []
            with time_machine.travel(at - datetime.timedelta(days=1), tick=False):
                for n in range(args.vouchers):
                    enterprise = EnterpriseFactory(division="420103", name=f"基准企业{n}")
                    codes.append(
                        voucher_issue(
                            actor=system,
                            program=program,
                            enterprise=enterprise,
                            amount=Decimal("1000000"),
                            from_reservation=False,
                        ).code
                    )
            t0 = time.perf_counter()
            with time_machine.travel(at, tick=True):
                for start in range(0, args.charges, 1000):
                    items = [
                        RedeemInput(
                            reference=f"bench-{i}",
                            occurred_at=timezone.now(),
                            voucher_code=codes[i % len(codes)],
                            billed_amount=Decimal("100.00"),
                        )
                        for i in range(start, min(start + 1000, args.charges))
                    ]
                    voucher_redeem_batch(actor=system, platform=platform, items=items)
            t1 = time.perf_counter()
            print(f"charges_made {args.charges} in {t1 - t0:.1f} s")
            # Planner statistics, as a production database has them (the rows
            # are this transaction's own: ANALYZE sees them, autovacuum not).
            with connection.cursor() as cursor:
                for table in (
                    "vouchers_redemption",
                    "vouchers_reversal",
                    "vouchers_voucher",
                    "vouchers_program",
                    "settlements_settlementline",
                ):
                    cursor.execute(f"ANALYZE {table}")
            t0 = time.perf_counter()
            if os.environ.get("BENCH_PROFILE"):
                import cProfile
                import pstats

                profile = cProfile.Profile()
                (settlement,) = profile.runcall(settlements_draw, platform=platform)
                pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
            else:
                (settlement,) = settlements_draw(platform=platform)
            t1 = time.perf_counter()
            print(
                f"draw {settlement.line_count} lines: {t1 - t0:.2f} s "
                f"({settlement.line_count / (t1 - t0):,.0f} lines/s), amount due "
                f"{settlement.amount_due}"
            )
            t0 = time.perf_counter()
            again = settlements_draw(platform=platform)
            print(f"draw again: {len(again)} drawn, {time.perf_counter() - t0:.3f} s")
            timings = []
            size = 0
            for _ in range(3):
                t0 = time.perf_counter()
                size = len(statement_pdf(settlement, language="zh-hans"))
                timings.append(time.perf_counter() - t0)
            print(
                f"statement_pdf {args.vouchers} vouchers: median {statistics.median(timings):.2f} s, "
                f"{size / 1024:.0f} KiB"
            )
            from accounts.models import Membership, User

            reviewer = User.objects.create(email="bench-reviewer@example.com")
            Membership.objects.create(
                user=reviewer, role=Membership.Role.REVIEWER, district=district
            )
            settlement = settlement_submit(
                actor=system,
                platform=platform,
                settlement_id=settlement.pk,
                invoice_number="BENCH",
                invoice_amount=settlement.amount_due,
            )
            settlement = settlement_start_review(
                actor=Actor.for_user(reviewer), settlement=settlement
            )
            line = settlement.lines.order_by("id").last()
            t0 = time.perf_counter()
            settlement_line_reject(actor=Actor.for_user(reviewer), line=line, reason="bench")
            print(f"reject one line of {settlement.line_count}: {time.perf_counter() - t0:.3f} s")
            print(f"rejected: {Settlement.objects.get(pk=settlement.pk).rejected}")
            raise Rollback
    except Rollback:
        print("rolled back")


if __name__ == "__main__":
    main()
