"""Demo settlements with the platforms, in every state, for the Wuhan (420100)
and Jianghan (420103) compute programs, which deduct at the platform.

Each settlement is made the way real ones are: charges recorded on days of
past months (the clock moved there with ``time_machine``, as the settlement
tests do, so every timestamp is the day it stands for), drawn three minutes
after its month ended (as the hourly task would), then submitted by the
platform's operator, reviewed by the district's official, approved and paid
by the district's finance officer — all through the settlement services, so
the audit trail, the ledger (a rejected charge is reversed on its voucher)
and the budget figures are what real use leaves. The months are counted back
from today (Shanghai), three to six months back: always in the past,
whatever today is, and never the months the usage stories of
:mod:`demo.seed_usage` fall in.

Amounts: compute bills in yuan, 30 % covered (the programs' rate, from
Jianghan's "reduce computing costs by 30–40 %"); the bills themselves are
demo figures, the token platform's priced at ¥4 per million Kimi-K2.5 input
tokens (Shanghai Telecom's 250,000 points per yuan).

The stories (months back, platform × program, enterprise):

- Wuhan AI Computing Center × Wuhan compute (Wuchang Label): 6 and 5 paid
  in full, 4 approved with a rejected charge (a job the platform's logs do
  not show) and partly paid — finance approved it only days ago, so the
  detectors see the jump in its rejected share —, 3 under review.
- Jianghan Token Platform × Wuhan compute (Hanjiang): 4 approved, not yet
  paid; 3 submitted.
- Wuhan AI Computing Center × Jianghan compute (Chutian, a one-person
  company training a dialect model): 5 paid, with a
  charge partly refunded by the platform and another rejected; 4 returned
  for a wrong invoice; 3 still a draft.

Idempotent: when the demo's settlement vouchers exist nothing is made again;
the finance officers and their logins are brought up to date on every run.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import time_machine
from django.utils import timezone

from accounts.models import ComputePlatform, District, Enterprise, Membership, User
from audit.services import Actor
from programs.models import Program
from settlements.models import Settlement, SettlementLine
from settlements.periods import MONTH, Period, period_of
from settlements.services import (
    settlement_approve,
    settlement_line_reject,
    settlement_pass_on,
    settlement_payment_record,
    settlement_return,
    settlement_start_review,
    settlement_submit,
    settlements_draw,
)
from vouchers.models import Voucher
from vouchers.services import redemption_reverse, voucher_issue, voucher_redeem

ISSUER = "demo seed settlements"

FINANCE_OFFICERS = {
    "420100": ("finance@wuhan.example.gov.cn", "武汉市财政局 周婷"),
    "420103": ("finance@jianghan.example.gov.cn", "江汉区财政局 吴磊"),
    "520100": ("finance@guiyang.example.gov.cn", "贵阳市财政局 郑洁"),
    "130600": ("finance@baoding.example.gov.cn", "保定市财政局 冯涛"),
}
#: The districts' treasury accounts the payments are made from (demo figures).
PAYER_ACCOUNTS = {
    "420100": "武汉市财政局国库集中支付 4201-0000-0001",
    "420103": "江汉区财政局国库集中支付 4201-0300-0001",
}

# program name part, enterprise key, face value (yuan)
VOUCHERS: list[tuple[str, str, str]] = [
    ("武汉市算力券", "wuchang-label", "300000.00"),
    ("武汉市算力券", "hanjiang", "100000.00"),
    ("江汉区算力券", "chutian-opc", "150000.00"),
]

REJECTION = "平台日志中查无此作业 / The platform's job logs show no such job"
RETURN_REASON = (
    "发票号码与发票金额对应不上，请核对后重新提交 / "
    "The invoice number does not match the invoice amount; please check and resubmit"
)


@dataclass(frozen=True)
class Story:
    """One demo settlement: its charges and how far it goes."""

    key: str
    program: str  # a part of the program's name
    platform: str  # slug
    enterprise: str  # key in demo.seed.ENTERPRISES
    months_back: int
    target: str  # a Settlement.Status
    bills: tuple[str, ...]
    reject: tuple[int, ...] = ()  # bills a reviewer rejects
    refund: tuple[int, str] | None = None  # (bill, covered amount) the platform refunds
    payments: tuple[str, ...] = ()  # amounts paid, in order; "rest" pays what is left
    decided_days_ago: int | None = None  # passed on and approved this many days ago


Status = Settlement.Status

STORIES: list[Story] = [
    Story(
        "aicc-wuhan-6",
        "武汉市算力券",
        "wuhan-aicc",
        "wuchang-label",
        6,
        Status.PAID,
        ("18600.00", "9240.00", "12480.00"),
        payments=("rest",),
    ),
    Story(
        "aicc-wuhan-5",
        "武汉市算力券",
        "wuhan-aicc",
        "wuchang-label",
        5,
        Status.PAID,
        ("21360.00", "7920.00", "15840.00", "11200.00"),
        payments=("10000.00", "rest"),
    ),
    Story(
        "aicc-wuhan-4",
        "武汉市算力券",
        "wuhan-aicc",
        "wuchang-label",
        4,
        Status.APPROVED,
        ("19440.00", "24000.00", "8760.00", "13120.00"),
        reject=(1,),
        payments=("5000.00",),
        decided_days_ago=5,
    ),
    Story(
        "aicc-wuhan-3",
        "武汉市算力券",
        "wuhan-aicc",
        "wuchang-label",
        3,
        Status.UNDER_REVIEW,
        ("16720.00", "10360.00", "14080.00"),
    ),
    Story(
        "token-wuhan-4",
        "武汉市算力券",
        "jianghan-token",
        "hanjiang",
        4,
        Status.APPROVED,
        ("3600.00", "5280.00"),  # 900 M and 1,320 M tokens at ¥4 per million
    ),
    Story(
        "token-wuhan-3",
        "武汉市算力券",
        "jianghan-token",
        "hanjiang",
        3,
        Status.SUBMITTED,
        ("4480.00", "2960.00", "6120.00"),
    ),
    Story(
        "aicc-jianghan-5",
        "江汉区算力券",
        "wuhan-aicc",
        "chutian-opc",
        5,
        Status.PAID,
        ("26800.00", "14200.00", "9600.00"),
        reject=(2,),
        refund=(0, "1200.00"),
        payments=("rest",),
    ),
    Story(
        "aicc-jianghan-4",
        "江汉区算力券",
        "wuhan-aicc",
        "chutian-opc",
        4,
        Status.RETURNED,
        ("22400.00", "17800.00"),
    ),
    Story(
        "aicc-jianghan-3",
        "江汉区算力券",
        "wuhan-aicc",
        "chutian-opc",
        3,
        Status.DRAFT,
        ("19600.00", "12750.00"),
    ),
]


def _month(today: datetime.date, months_back: int) -> Period:
    first = period_of(today, MONTH).first_day
    for _ in range(months_back):
        first = period_of(first - datetime.timedelta(days=1), MONTH).first_day
    return period_of(first, MONTH)


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(
        day, datetime.time(hour, minute), tzinfo=timezone.get_default_timezone()
    )


class _Timeline:
    """Steps at past moments, run in the order of their moments."""

    def __init__(self) -> None:
        self._steps: list[tuple[datetime.datetime, int, Callable[[], object]]] = []

    def at(self, moment: datetime.datetime, step: Callable[[], object]) -> None:
        self._steps.append((moment, len(self._steps), step))

    def run(self) -> None:
        for moment, _n, step in sorted(self._steps, key=lambda s: (s[0], s[1])):
            with time_machine.travel(moment, tick=False):
                step()


@dataclass
class _Cast:
    """Who acts in the district of a program."""

    official: User
    finance: User
    payer_account: str


def seed_finance_officers() -> list[dict[str, str]]:
    """A finance officer per demo district (same password and first-login TOTP
    as the other officials); returns their logins."""
    from .seed import DEMO_PASSWORD, _user

    logins = []
    for code, (email, full_name) in FINANCE_OFFICERS.items():
        user = _user(email, full_name)
        Membership.objects.get_or_create(
            user=user,
            role=Membership.Role.FINANCE_OFFICER,
            district=District.objects.get(code=code),
        )
        logins.append(
            {"role": f"finance officer {code}", "email": email, "password": DEMO_PASSWORD}
        )
    return logins


def seed_settlements(
    *, programs: list[Program], enterprises: list[Enterprise], uscc_by_key: dict[str, str]
) -> list[dict[str, Any]]:
    """Make the demo settlements (once) and return every settlement for
    ``seed_demo --json``."""
    if not Voucher.objects.filter(issued_by=ISSUER).exists():
        _seed_stories(programs=programs, enterprises=enterprises, uscc_by_key=uscc_by_key)
    return [
        {
            "id": s.pk,
            "platform": s.platform.slug,
            "program": s.program_id,
            "period": s.period,
            "status": s.status,
            "amount_due": f"{s.amount_due:.2f}",
            "approved_amount": (
                f"{s.approved_amount:.2f}" if s.approved_amount is not None else None
            ),
            "paid_amount": f"{s.paid_amount:.2f}",
        }
        for s in Settlement.objects.select_related("platform").order_by("pk")
    ]


def _seed_stories(
    *, programs: list[Program], enterprises: list[Enterprise], uscc_by_key: dict[str, str]
) -> None:
    from .seed import OFFICIALS

    today = timezone.localdate()
    by_uscc = {e.uscc: e for e in enterprises}
    program_of = {part: next(p for p in programs if part in p.name) for part, _e, _f in VOUCHERS}
    casts = {}
    for program in program_of.values():
        code = program.district.code
        casts[program.pk] = _Cast(
            official=User.objects.get(email=next(e for c, e, _n in OFFICIALS if c == code)),
            finance=User.objects.get(email=FINANCE_OFFICERS[code][0]),
            payer_account=PAYER_ACCOUNTS[code],
        )
    earliest = _month(today, max(s.months_back for s in STORIES))
    issued_at = _at(earliest.first_day - datetime.timedelta(days=3), 9)
    vouchers: dict[tuple[str, str], Voucher] = {}
    with time_machine.travel(issued_at, tick=False):
        for part, enterprise_key, face in VOUCHERS:
            vouchers[(part, enterprise_key)] = voucher_issue(
                actor=Actor.system(ISSUER),
                program=program_of[part],
                enterprise=by_uscc[uscc_by_key[enterprise_key]],
                amount=Decimal(face),
                from_reservation=False,
                valid_from=issued_at,
            )
    timeline = _Timeline()
    drawn: set[datetime.datetime] = set()
    for story in STORIES:
        period = _month(today, story.months_back)
        ended = period.bounds()[1]
        if ended not in drawn:
            # Three minutes past midnight, as the hourly task draws an ended month.
            drawn.add(ended)
            timeline.at(ended + datetime.timedelta(minutes=3), settlements_draw)
        _plan(
            timeline,
            story,
            period=period,
            today=today,
            voucher=vouchers[(story.program, story.enterprise)],
            platform=ComputePlatform.objects.get(slug=story.platform),
            cast=casts[program_of[story.program].pk],
        )
    timeline.run()


def _plan(
    timeline: _Timeline,
    story: Story,
    *,
    period: Period,
    today: datetime.date,
    voucher: Voucher,
    platform: ComputePlatform,
    cast: _Cast,
) -> None:
    """Put the story's charges and its walk through the services on the timeline."""
    platform_actor = Actor.platform_key(f"demo-{platform.slug}")
    charges: list[int] = []

    def charge(n: int, bill: str, moment: datetime.datetime) -> Callable[[], None]:
        def step() -> None:
            result = voucher_redeem(
                actor=platform_actor,
                platform=platform,
                voucher=voucher,
                reference=f"settle-{story.key}-{n + 1:04d}",
                # Usage reported the morning after the job ran overnight.
                occurred_at=moment - datetime.timedelta(hours=9),
                billed_amount=Decimal(bill),
            )
            charges.append(result.id)

        return step

    for n, bill in enumerate(story.bills):
        day = period.first_day + datetime.timedelta(days=2 + 7 * n)
        timeline.at(_at(day, 10, 7 * n + 5), charge(n, bill, _at(day, 10, 7 * n + 5)))
    if story.refund is not None:
        index, amount = story.refund

        def refund() -> None:
            redemption_reverse(
                actor=platform_actor,
                platform=platform,
                redemption_id=charges[index],
                amount=Decimal(amount),
                reference=f"settle-{story.key}-refund-0001",
                reason="GPU 节点故障，作业免费重跑 / GPU node failure, job re-run free of charge",
            )

        timeline.at(_at(period.first_day + datetime.timedelta(days=25), 16), refund)
    if story.target == Status.DRAFT:
        return

    ended = period.last_day + datetime.timedelta(days=1)
    operator = User.objects.get(email=f"operator@{platform.slug}.example.com")
    official, finance = Actor.for_user(cast.official), Actor.for_user(cast.finance)

    def settlement() -> Settlement:
        return Settlement.objects.get(
            platform=platform, program=voucher.program_id, period=period.label
        )

    def submit() -> None:
        current = settlement()
        settlement_submit(
            actor=Actor.for_user(operator),
            platform=platform,
            settlement_id=current.pk,
            invoice_number=f"{platform.slug.upper()}-{period.label}-{voucher.program_id}",
            invoice_amount=current.amount_due,
            note="本期结算单及增值税发票 / This period's statement with its VAT invoice",
        )

    timeline.at(_at(ended + datetime.timedelta(days=2), 15), submit)
    if story.target == Status.SUBMITTED:
        return
    timeline.at(
        _at(ended + datetime.timedelta(days=5), 9, 30),
        lambda: settlement_start_review(actor=official, settlement=settlement()),
    )
    if story.target == Status.UNDER_REVIEW:
        return
    if story.target == Status.RETURNED:
        timeline.at(
            _at(ended + datetime.timedelta(days=6), 11),
            lambda: settlement_return(
                actor=official, settlement=settlement(), reason=RETURN_REASON
            ),
        )
        return

    def reject() -> None:
        for index in story.reject:
            line = SettlementLine.objects.get(
                settlement=settlement(), redemption_id=charges[index], kind="capture"
            )
            settlement_line_reject(actor=official, line=line, reason=REJECTION)

    if story.reject:
        timeline.at(_at(ended + datetime.timedelta(days=6), 14), reject)
    if story.decided_days_ago is not None:
        decided = today - datetime.timedelta(days=story.decided_days_ago)
    else:
        decided = ended + datetime.timedelta(days=9)
    timeline.at(
        _at(decided - datetime.timedelta(days=1), 16),
        lambda: settlement_pass_on(actor=official, settlement=settlement()),
    )
    timeline.at(
        _at(decided, 10), lambda: settlement_approve(actor=finance, settlement=settlement())
    )
    for n, part in enumerate(story.payments):

        def pay(n: int = n, part: str = part) -> None:
            current = settlement()
            settlement_payment_record(
                actor=finance,
                settlement=current,
                amount=current.outstanding if part == "rest" else Decimal(part),
                paid_on=timezone.localdate(),
                payer_account=cast.payer_account,
                bank_reference=f"DEMO-{story.key.upper()}-{n + 1:02d}",
            )

        timeline.at(_at(decided + datetime.timedelta(days=2 + 10 * n), 11), pay)
