"""Demo claims and performance agreements: the programs that pay after
purchase ("How the money flows", 2 and 3 in DESIGN.md).

Three programs, made here beside the others:

- **Baoding's 数智券 as a reimbursement program** (保定, 130600), two yearly
  rounds: this year's, funding compute used in the program year (the year of
  the demo's other programs), with its claim window around today; and last
  year's, whose claims were paid some sixteen months ago so that their
  performance agreements have come up for assessment. As published: 30 % of
  the spend, for buyers of more than ¥300,000 a year, at most ¥300,000 per
  enterprise a year. Demo figures: the budget, the windows, the second
  finance approval above ¥200,000, third-party assessment, the agreement's
  targets (a headcount of 30 and ¥200,000 of local tax a year after the
  payment, a shortfall clawed back in proportion, due in 30 days), and the
  supplier's priority when both sides of a contract claim it.
- **A Beijing-style contract voucher** (北京, 110000): 20 % of a signed
  contract for GPU/NPU compute, at most ¥2,000,000 per enterprise a year,
  contracts signed in the program year with a term of at most 366 days. The
  approved pre-approval grants a voucher bound to the contract; a
  redemption claim with the invoices and delivery proofs draws on it.

Everything goes through the services (``settlements.claims`` and
``settlements.agreements``), at past moments with the clock moved there as
:mod:`demo.seed_settlements` does, so timestamps, audit events, budget
counters and the contract voucher's ledger are what real use leaves. The
contracts, payment receipts and delivery reports are small generated PDFs.

The stories (``WALKS``, ``AGREEMENTS``): this year's Baoding claims in every
state — a draft with an unpaid invoice and no proofs yet, one submitted by a
supplier, which supersedes its buyer's claim on the same contract (that one
is then rejected), one under the district's check, one returned, one
rejected for stacking with another municipal fund, one withdrawn, one with
the assessor after the check left an invoice out, one awaiting the first of
its two finance approvals, one approved and partly paid and one paid — and
last year's, all paid, whose agreements are with the assessor, assessed,
met, partly met (a receivable partly repaid, now overdue) and missed (one
receivable open and overdue, one written off after the company was
deregistered). In Beijing: a contract voucher granted and partly redeemed by
an approved redemption claim, a pre-approval under the check and a draft on a
two-year contract, which the program's term refuses.

Idempotent: the programs, people and enterprises are brought up to date on
every run; the stories are made once, when none of these programs has a
claim yet.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import time_machine
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import District, Enterprise, Membership, User
from accounts.uscc import check_character
from audit.services import Actor
from programs.models import PhaseStep, Program
from programs.services import program_open
from settlements import claims as services
from settlements.models import Claim, Contract, ContractDocument, PerformanceAgreement

from .calendar import DemoCalendar
from .seed_settlements import _at, _Timeline

Status = Claim.Status
Kind = ContractDocument.Kind
Agreement = PerformanceAgreement.Status
DAY = datetime.timedelta(days=1)


def _uscc(division: str, serial: str) -> str:
    """A valid USCC registered in ``division`` (as ``demo.seed.demo_uscc``)."""
    first17 = f"91{division}MA{serial}"
    assert len(first17) == 17, first17
    return first17 + check_character(first17)


# --- Districts, people ---------------------------------------------------------

BEIJING = ("110000", "北京市", "Beijing")

#: (district, e-mail, full name, roles, login label). Baoding's reviewer,
#: program manager and first finance officer are the demo's own
#: (``official@`` and ``finance@baoding``); these are added.
PEOPLE: list[tuple[str, str, str, tuple[str, ...], str]] = [
    (
        "110000",
        "official@beijing.example.gov.cn",
        "北京市经济和信息化局 韩冰",
        (
            Membership.Role.PROGRAM_MANAGER,
            Membership.Role.REVIEWER,
            Membership.Role.AUDITOR,
        ),
        "official 110000",
    ),
    (
        "110000",
        "reviewer2@beijing.example.gov.cn",
        "北京市经济和信息化局 周扬",
        (Membership.Role.REVIEWER,),
        "second reviewer 110000",
    ),
    (
        "110000",
        "finance@beijing.example.gov.cn",
        "北京市财政局 宋佳",
        (Membership.Role.FINANCE_OFFICER,),
        "finance officer 110000",
    ),
    (
        "110000",
        "assessor@beijing.example.gov.cn",
        "北京中评科技咨询有限公司 林涛",
        (Membership.Role.ASSESSOR,),
        "assessor 110000",
    ),
    (
        "130600",
        "assessor@baoding.example.gov.cn",
        "河北冀信工程咨询有限公司 田野",
        (Membership.Role.ASSESSOR,),
        "assessor 130600",
    ),
    (
        # The second of two finance approvals, and the write-off.
        "130600",
        "finance2@baoding.example.gov.cn",
        "保定市财政局 邱敏",
        (Membership.Role.FINANCE_OFFICER,),
        "second finance officer 130600",
    ),
    (
        # Decides the agreements another program manager gave to the assessor.
        "130600",
        "manager2@baoding.example.gov.cn",
        "保定市工信局 钱峰",
        (Membership.Role.PROGRAM_MANAGER,),
        "second program manager 130600",
    ),
]


@dataclass(frozen=True)
class Cast:
    """Who acts for a district in the stories (e-mails)."""

    reviewer: str
    manager: str
    second_manager: str | None
    assessor: str
    finance: str
    second_finance: str | None
    payer_account: str


CASTS = {
    "130600": Cast(
        reviewer="official@baoding.example.gov.cn",
        manager="official@baoding.example.gov.cn",
        second_manager="manager2@baoding.example.gov.cn",
        assessor="assessor@baoding.example.gov.cn",
        finance="finance@baoding.example.gov.cn",
        second_finance="finance2@baoding.example.gov.cn",
        payer_account="保定市财政局国库集中支付 1306-0000-0001",
    ),
    "110000": Cast(
        reviewer="official@beijing.example.gov.cn",
        manager="official@beijing.example.gov.cn",
        second_manager=None,
        assessor="assessor@beijing.example.gov.cn",
        finance="finance@beijing.example.gov.cn",
        second_finance=None,
        payer_account="北京市财政局国库集中支付 1100-0000-0001",
    ),
}

# --- Enterprises and their counterparties -----------------------------------------

#: The demo's enterprise (``demo.seed``) that claims here too.
EXISTING = ("baoding-annotate",)

ENTERPRISES: list[dict[str, Any]] = [
    {
        "key": "lianchi-vision",
        "name": "保定莲池视觉智能科技有限公司",
        "uscc": _uscc("130606", "0C7L2W5"),
        "legal_representative": "刘建国",
        "contact_name": "马晓燕",
        "contact_phone": "0312-308-5521",
        "address": "保定市莲池区东风东路588号",
        "headcount": 52,
        "prior_year_revenue": Decimal("9800000.00"),
        "local_tax_paid": Decimal("436000.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2019, 4, 11),
    },
    {
        "key": "xushui-auto",
        "name": "保定徐水智驾数据科技有限公司",
        "uscc": _uscc("130609", "0D2K8R4"),
        "legal_representative": "郭伟",
        "contact_name": "张蕾",
        "contact_phone": "0312-864-2210",
        "address": "保定市徐水区长城北路99号",
        "headcount": 36,
        "prior_year_revenue": Decimal("4700000.00"),
        "local_tax_paid": Decimal("205000.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2020, 10, 9),
    },
    {
        "key": "zhuozhou-corpus",
        "name": "涿州语料工程技术有限公司",
        "uscc": _uscc("130681", "0E5H3T7"),
        "legal_representative": "何明",
        "contact_name": "韩雪",
        "contact_phone": "0312-372-6618",
        "address": "涿州市范阳西路156号",
        "headcount": 28,
        "prior_year_revenue": Decimal("3100000.00"),
        "local_tax_paid": Decimal("142000.00"),
        "industry": Enterprise.Industry.RESEARCH,
        "founded_on": datetime.date(2021, 3, 15),
    },
    {
        "key": "gaobeidian-agent",
        "name": "高碑店智能体软件有限公司",
        "uscc": _uscc("130684", "0F8M6Q2"),
        "legal_representative": "曹磊",
        "contact_name": "邓颖",
        "contact_phone": "0312-290-4416",
        "address": "高碑店市迎宾路北段18号",
        "headcount": 22,
        "prior_year_revenue": Decimal("2600000.00"),
        "local_tax_paid": Decimal("118000.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2022, 5, 20),
    },
    {
        # A GPU rental company: the supplier whose claim has priority.
        "key": "yungu-compute",
        "name": "保定云谷算力服务有限公司",
        "uscc": _uscc("130602", "0G3N9X1"),
        "legal_representative": "彭涛",
        "contact_name": "蒋琳",
        "contact_phone": "0312-598-1309",
        "address": "保定市竞秀区朝阳北大街云谷大厦",
        "headcount": 40,
        "prior_year_revenue": Decimal("15800000.00"),
        "local_tax_paid": Decimal("690000.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2018, 9, 3),
    },
    {
        # Moved its tax registration to Tianjin after last year's subsidy.
        "key": "qingyuan-data",
        "name": "保定清苑数据服务有限公司",
        "uscc": _uscc("130608", "0H7P5K2"),
        "legal_representative": "吕刚",
        "contact_name": "胡静",
        "contact_phone": "0312-801-5532",
        "address": "保定市清苑区清苑大街207号",
        "headcount": 3,
        "prior_year_revenue": Decimal("1900000.00"),
        "local_tax_paid": Decimal("0.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2021, 7, 6),
    },
    {
        # Deregistered (注销) after last year's subsidy: its clawback is written off.
        "key": "mancheng-label",
        "name": "保定满城智能标注有限公司",
        "uscc": _uscc("130607", "0J2R8W6"),
        "legal_representative": "苗强",
        "contact_name": "苗强",
        "contact_phone": "0312-709-3348",
        "address": "保定市满城区满城大街66号",
        "headcount": 0,
        "prior_year_revenue": Decimal("850000.00"),
        "local_tax_paid": Decimal("0.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2022, 2, 14),
    },
    {
        "key": "qiming-llm",
        "name": "北京启明大模型科技有限公司",
        "uscc": _uscc("110108", "7H4P2D8"),
        "legal_representative": "沈嘉",
        "contact_name": "罗欣",
        "contact_phone": "010-6275-3318",
        "address": "北京市海淀区中关村大街27号",
        "headcount": 120,
        "prior_year_revenue": Decimal("56000000.00"),
        "local_tax_paid": Decimal("3100000.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2017, 6, 12),
    },
    {
        "key": "zgc-robotics",
        "name": "北京中关村具身智能科技有限公司",
        "uscc": _uscc("110108", "7J9R5B3"),
        "legal_representative": "唐宁",
        "contact_name": "许诺",
        "contact_phone": "010-6251-8840",
        "address": "北京市海淀区上地信息路26号",
        "headcount": 45,
        "prior_year_revenue": Decimal("12000000.00"),
        "local_tax_paid": Decimal("610000.00"),
        "industry": Enterprise.Industry.RESEARCH,
        "founded_on": datetime.date(2021, 11, 1),
    },
]

#: Suppliers not registered on the platform: (USCC, name).
SUPPLIERS = {
    "jingji": (_uscc("130607", "0K6W4N8"), "河北京畿智算科技有限公司"),
    "jizhong": (_uscc("130608", "0L1T7C5"), "冀中智算中心运营有限公司"),
    "yizhuang": (_uscc("110115", "7M2X8F6"), "北京亦庄智算中心运营有限公司"),
}

PAYEE_BANKS = {"130600": "中国银行保定分行营业部", "110000": "北京银行中关村分行"}

# --- Programs ----------------------------------------------------------------------

BAODING_TARGETS = [
    {"kind": "headcount", "target": "30"},
    {"kind": "local_tax", "target": "200000"},
]
BAODING_OBLIGATIONS = (
    "获补企业签订目标责任书：补贴拨付满一年时在保定市参保员工不少于30人、"
    "当年在本地缴纳税收不少于20万元；未达标的按差额比例追回补贴，30日内退回。",
    "The enterprise signs a performance agreement: a year after the payment, at least 30 "
    "staff insured in Baoding and 200,000 yuan of local tax paid that year; a shortfall is "
    "clawed back in proportion, to be repaid within 30 days (demo figures).",
)
BEIJING_OBLIGATIONS = (
    "算力券与备案合同绑定，仅用于合同约定的GPU/NPU智能算力服务，凭发票和交付凭证核销。",
    "The voucher is bound to the registered contract, only for the GPU/NPU compute it buys, "
    "and is redeemed against invoices and delivery proofs.",
)


def _first_of_month(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def _baoding_schedule(calendar: DemoCalendar) -> list[tuple[datetime.date, Decimal]]:
    """30 % through both funded years, a step down after the current one
    (always after today), then the exit a year later."""
    year = calendar.year
    down = max(datetime.date(year + 1, 1, 1), _first_of_month(calendar.today, 1))
    return [
        (datetime.date(year - 1, 1, 1), Decimal("0.30")),
        (down, Decimal("0.20")),
        (down.replace(year=down.year + 1), Decimal("0")),
    ]


def _beijing_schedule(calendar: DemoCalendar) -> list[tuple[datetime.date, Decimal]]:
    """20 % for the contracts' whole terms, then the exit."""
    return [
        (_first_of_month(calendar.today, -11), Decimal("0.20")),
        (_first_of_month(calendar.today, 13), Decimal("0")),
    ]


def program_specs(calendar: DemoCalendar) -> list[dict[str, Any]]:
    """The claim programs, named for the year they fund."""
    today, year = calendar.today, calendar.year
    baoding: dict[str, Any] = {
        "kind": Program.Kind.COMPUTE,
        "unit": Program.Unit.CNY,
        "payout_mode": Program.PayoutMode.REIMBURSE,
        "total_budget": Decimal("10000000.00"),  # demo figure
        "per_enterprise_cap": Decimal("300000.00"),
        "per_charge_cap": None,
        "base_rate": Decimal("0.30"),  # demo figure, as the demo's other Baoding program
        "four_eyes_threshold": Decimal("150000.00"),
        "settlement_four_eyes_threshold": Decimal("200000.00"),  # demo figure
        "claim_min_spend": Decimal("300000.00"),  # "purchasing over 300,000 yuan"
        "claim_cap": Decimal("300000.00"),  # "up to 300,000 yuan"
        "claim_cap_per_year": Decimal("300000.00"),
        "claim_rounding": Program.ClaimRounding.FEN_HALF_UP,
        "claim_priority": Program.ClaimPriority.SUPPLIER_FIRST,  # demo figure
        "claim_gpu_npu_only": True,
        "claim_requires_assessment": True,
        "contract_max_term_days": 366,
        "requires_agreement": True,
        "agreement_targets": BAODING_TARGETS,
        "agreement_term_months": 12,
        "clawback_rule": Program.ClawbackRule.PROPORTIONAL,
        "clawback_due_days": 30,
        "obligations": BAODING_OBLIGATIONS[0],
        "obligations_en": BAODING_OBLIGATIONS[1],
        "application_opens_on": calendar.opens_baoding,
        "application_closes_on": calendar.closes,
        "schedule": _baoding_schedule(calendar),
    }
    summary = (
        "{year}年度算力采购超过30万元的企业，按实际支付算力费用的30%给予补贴，"
        "每家企业每年最高30万元；事后申领，第三方评估，签订目标责任书。"
    )
    summary_en = (
        "Enterprises buying more than 300,000 yuan of compute in {year} are reimbursed 30 % of "
        "what they paid, at most 300,000 yuan per enterprise a year; claimed after purchase, "
        "assessed by a third party, with a performance agreement."
    )
    return [
        {
            **baoding,
            "key": "baoding-previous",
            "district": "130600",
            "name": f"{year - 1}年保定市数智券（算力采购补贴）",
            "name_en": f"Baoding Digital-Intelligence Vouchers {year - 1} (reimbursement)",
            "summary": summary.format(year=year - 1),
            "summary_en": summary_en.format(year=year - 1),
            "claim_opens_on": today - 510 * DAY,
            "claim_closes_on": today - 420 * DAY,
            "service_starts_on": datetime.date(year - 1, 1, 1),
            "service_ends_on": datetime.date(year - 1, 12, 31),
            "contracts_signed_from": datetime.date(year - 2, 10, 1),
            "opened": today - 512 * DAY,
        },
        {
            **baoding,
            "key": "baoding",
            "district": "130600",
            "name": f"{year}年保定市数智券（算力采购补贴）",
            "name_en": f"Baoding Digital-Intelligence Vouchers {year} (reimbursement)",
            "summary": summary.format(year=year),
            "summary_en": summary_en.format(year=year),
            "claim_opens_on": today - 45 * DAY,
            "claim_closes_on": today + 45 * DAY,
            "service_starts_on": datetime.date(year, 1, 1),
            "service_ends_on": datetime.date(year, 12, 31),
            "contracts_signed_from": datetime.date(year - 1, 10, 1),
            "opened": calendar.opens_baoding - 2 * DAY,
        },
        {
            "key": "beijing",
            "district": "110000",
            "name": f"{year}年北京市智能算力券（合同制）",
            "name_en": f"Beijing Intelligent-Compute Vouchers {year} (against a contract)",
            "summary": "企业凭已签订的GPU/NPU智能算力采购合同申领算力券，按合同金额的20%核定，"
            "每家企业每年最高200万元；合同期限不超过一年，凭发票和交付凭证核销。",
            "summary_en": "Enterprises with a signed contract for GPU/NPU compute receive a voucher "
            "of 20 % of the contract, at most 2 million yuan per enterprise a year; contracts of "
            "one year or less, redeemed against invoices and delivery proofs.",
            "kind": Program.Kind.COMPUTE,
            "unit": Program.Unit.CNY,
            "payout_mode": Program.PayoutMode.CONTRACT_VOUCHER,
            "total_budget": Decimal("100000000.00"),  # demo figure
            "per_enterprise_cap": Decimal("2000000.00"),
            "per_charge_cap": None,
            "base_rate": Decimal("0.20"),
            "four_eyes_threshold": Decimal("1000000.00"),
            "settlement_four_eyes_threshold": Decimal("1000000.00"),  # demo figure
            "voucher_validity_days": 366,
            "claim_opens_on": calendar.opens,
            "claim_closes_on": calendar.closes,
            "service_starts_on": None,
            "service_ends_on": None,
            "contracts_signed_from": datetime.date(year, 1, 1),
            "contract_max_term_days": 366,
            "claim_min_spend": None,
            "claim_cap": None,
            "claim_cap_per_year": Decimal("2000000.00"),
            "claim_rounding": Program.ClaimRounding.FEN_HALF_UP,
            "claim_priority": Program.ClaimPriority.BUYER_ONLY,
            "claim_gpu_npu_only": True,
            "claim_requires_assessment": True,
            "requires_agreement": False,
            "agreement_targets": [],
            "obligations": BEIJING_OBLIGATIONS[0],
            "obligations_en": BEIJING_OBLIGATIONS[1],
            "application_opens_on": calendar.opens,
            "application_closes_on": calendar.closes,
            "schedule": _beijing_schedule(calendar),
            "opened": calendar.opens - 2 * DAY,
        },
    ]


# --- The stories ---------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceSpec:
    number: str
    amount: str
    issued_on: datetime.date
    paid_on: datetime.date | None


@dataclass(frozen=True)
class ContractSpec:
    number: str
    counterparty: str  # a key of SUPPLIERS, or of an enterprise (the buyer, for a supplier)
    signed_on: datetime.date
    starts: datetime.date
    ends: datetime.date
    amount: str
    kind: str  # a ServiceKind
    description: str
    side: str = Contract.Side.BUYER


ALL_PROOFS = (Kind.CONTRACT, Kind.PAYMENT, Kind.DELIVERY)


@dataclass(frozen=True)
class Walk:
    """One claim and how far it goes; ``days`` are days before today of its
    steps: record, submit, check, pass, assess, approve, pay (and return,
    reject, withdraw, exclude where the walk has them)."""

    key: str
    program: str  # a key of program_specs
    enterprise: str
    target: str  # a Claim.Status
    days: dict[str, int]
    contract: ContractSpec | None = None
    on_contract_of: str | None = None  # a redemption: the walk whose contract it draws on
    invoices: tuple[InvoiceSpec, ...] = ()
    proofs: tuple[str, ...] = ALL_PROOFS
    exclude: tuple[tuple[str, str], ...] = ()  # invoice number, reason
    recommended: str | None = None  # the assessor's; else the amount after the check
    assessment: str = "合同、发票、付款凭证与交付记录相互印证，算力服务真实发生。"
    reason: str = ""  # of the return or the rejection
    payments: tuple[str, ...] = ()  # amounts; "rest" pays what is left
    refresh: bool = False  # a pre-approval draft: compute it on the contract


@dataclass(frozen=True)
class AgreementStory:
    """The agreement of a walk's approved claim, and how far it goes."""

    walk: str
    target: str  # a PerformanceAgreement.Status
    assign: int  # days before today
    assess: int | None = None
    measured: dict[str, str] = field(default_factory=dict)
    report: str = ""
    decide: int | None = None
    repay: tuple[int, str] | None = None  # days before today, amount
    write_off: tuple[int, str] | None = None  # days before today, the decision quoted


CHECK = "材料真实完整，发票已查验，未发现重复申报和关联交易。"
RETURN_REASON = (
    "交付凭证只有供应商盖章的确认函，缺少算力使用记录（作业日志或资源监控截图），"
    "请补充后重新提交 / The delivery proof is only the supplier's stamped letter; add the usage "
    "records (job logs or resource monitoring) and resubmit"
)
STACKING = (
    "经核查，该合同所购算力已获保定市科技计划项目经费支持，不得重复享受 / The compute of this "
    "contract is already funded by a Baoding science and technology project: no stacking"
)
EXCLUSION = (
    "该发票的付款凭证显示由关联公司代付，不能证明申请企业实际支付 / The payment proof of this "
    "invoice shows a related company paid it: the claimant's payment is not proven"
)
ASSESSOR_CUT = (
    "资源监控显示2月有20天GPU节点未交付，按实际交付天数核减 / Monitoring shows the GPU nodes "
    "were not delivered for 20 days in February: reduced to the service delivered"
)


def _invoice_number(year: int, district: str, serial: int) -> str:
    """A 20-digit fully digital (全电) invoice number."""
    return f"{year % 100:02d}{district[:2]}2000000{serial:09d}"


def walks(calendar: DemoCalendar) -> list[Walk]:
    """The demo claims, dated from ``calendar``'s today."""
    today, year = calendar.today, calendar.year

    def baoding_contract(
        number: str, counterparty: str, amount: str, *, service_year: int, n: int, **kw: Any
    ) -> ContractSpec:
        return ContractSpec(
            number=number,
            counterparty=counterparty,
            signed_on=datetime.date(service_year - 1, 12, 4 + n),
            starts=datetime.date(service_year, 1, 1),
            ends=datetime.date(service_year, 12, 31),
            amount=amount,
            kind=kw.pop("kind", "gpu"),
            description=kw.pop(
                "description",
                f"{service_year}年度GPU智能算力租赁服务（A800集群，按月计费，年付）",
            ),
            **kw,
        )

    def invoices(
        service_year: int, first: int, *amounts: str, paid: bool = True
    ) -> tuple[InvoiceSpec, ...]:
        return tuple(
            InvoiceSpec(
                number=_invoice_number(service_year, "13", first + i),
                amount=amount,
                issued_on=datetime.date(service_year, 1, 6 + i),
                paid_on=datetime.date(service_year, 1, 12 + i) if paid else None,
            )
            for i, amount in enumerate(amounts)
        )

    old = year - 1
    # Last year's round: all paid some sixteen months ago; the agreements
    # signed with them have come up for assessment.
    previous = [
        ("old-annotate", "baoding-annotate", "jingji", "900000.00"),
        ("old-lianchi", "lianchi-vision", "jizhong", "800000.00"),
        ("old-xushui", "xushui-auto", "jingji", "500000.00"),
        ("old-zhuozhou", "zhuozhou-corpus", "jizhong", "650000.00"),
        ("old-qingyuan", "qingyuan-data", "jingji", "420000.00"),
        ("old-mancheng", "mancheng-label", "jizhong", "400000.00"),
    ]
    result = [
        Walk(
            key=key,
            program="baoding-previous",
            enterprise=enterprise,
            target=Status.PAID,
            days={
                "record": 500 - n,
                "submit": 495 - n,
                "check": 490 - n,
                "pass": 488 - n,
                "assess": 481 - n,
                "approve": 476 - n,
                "pay": 466 - n,
            },
            contract=baoding_contract(
                f"BD-{old}-HT-{n + 1:04d}", supplier, amount, service_year=old, n=n
            ),
            invoices=invoices(old, 10 * n + 1, amount),
            payments=("rest",),
        )
        for n, (key, enterprise, supplier, amount) in enumerate(previous)
    ]
    result += [
        Walk(
            key="paid",
            program="baoding",
            enterprise="baoding-annotate",
            target=Status.PAID,
            # 30 % of 1,080,000 is 324,000: capped at 300,000, two finance approvals.
            days={
                "record": 40,
                "submit": 38,
                "check": 36,
                "pass": 35,
                "assess": 31,
                "approve": 28,
                "pay": 20,
            },
            contract=baoding_contract(
                f"BD-{year}-HT-0101", "jingji", "1080000.00", service_year=year, n=0
            ),
            invoices=invoices(year, 101, "540000.00", "540000.00"),
            payments=("rest",),
        ),
        Walk(
            key="approved",
            program="baoding",
            enterprise="lianchi-vision",
            target=Status.APPROVED,
            days={
                "record": 30,
                "submit": 29,
                "check": 26,
                "pass": 25,
                "assess": 18,
                "approve": 12,
                "pay": 5,
            },
            contract=baoding_contract(
                f"BD-{year}-HT-0102", "jizhong", "600000.00", service_year=year, n=1
            ),
            invoices=invoices(year, 111, "600000.00"),
            payments=("90000.00",),  # partly paid
        ),
        Walk(
            key="finance",
            program="baoding",
            enterprise="xushui-auto",
            target=Status.FINANCE,
            # 252,000 claimed, 240,000 recommended: above 200,000, two approvals; none yet.
            days={"record": 25, "submit": 24, "check": 20, "pass": 19, "assess": 6},
            contract=baoding_contract(
                f"BD-{year}-HT-0103", "jingji", "840000.00", service_year=year, n=2
            ),
            invoices=invoices(year, 121, "420000.00", "420000.00"),
            recommended="240000.00",
            assessment=ASSESSOR_CUT,
        ),
        Walk(
            key="rejected",
            program="baoding",
            enterprise="zhuozhou-corpus",
            target=Status.REJECTED,
            days={"record": 22, "submit": 21, "check": 18, "reject": 17},
            contract=baoding_contract(
                f"BD-{year}-HT-0104", "jizhong", "330000.00", service_year=year, n=3
            ),
            invoices=invoices(year, 131, "330000.00"),
            reason=STACKING,
        ),
        Walk(
            key="returned",
            program="baoding",
            enterprise="lianchi-vision",
            target=Status.RETURNED,
            days={"record": 20, "submit": 19, "check": 15, "return": 14},
            contract=baoding_contract(
                f"BD-{year}-HT-0105",
                "jingji",
                "360000.00",
                service_year=year,
                n=4,
                kind="npu",
                description=f"{year}年度昇腾NPU智能算力服务（推理集群）",
            ),
            invoices=invoices(year, 141, "360000.00"),
            reason=RETURN_REASON,
        ),
        Walk(
            key="assessment",
            program="baoding",
            enterprise="zhuozhou-corpus",
            target=Status.ASSESSMENT,
            # 216,000 claimed; the check leaves the second invoice out: 144,000.
            days={"record": 15, "submit": 14, "check": 10, "pass": 9},
            contract=baoding_contract(
                f"BD-{year}-HT-0106", "jizhong", "720000.00", service_year=year, n=5
            ),
            invoices=invoices(year, 151, "480000.00", "240000.00"),
            exclude=((_invoice_number(year, "13", 152), EXCLUSION),),
        ),
        Walk(
            key="withdrawn",
            program="baoding",
            enterprise="xushui-auto",
            target=Status.WITHDRAWN,
            # Drafted beside the claim with finance, the yearly cap left it
            # 48,000 of its 93,000: the enterprise withdrew it.
            days={"record": 10, "withdraw": 9},
            contract=baoding_contract(
                f"BD-{year}-HT-0107", "jizhong", "310000.00", service_year=year, n=6
            ),
            invoices=invoices(year, 161, "310000.00"),
        ),
        Walk(
            # The buyer claims a contract of the supplier Yungu...
            key="superseded",
            program="baoding",
            enterprise="gaobeidian-agent",
            target=Status.SUBMITTED,  # then superseded by the supplier's claim
            days={"record": 9, "submit": 6},
            contract=baoding_contract(
                f"YG-{year}-0088", "yungu-compute", "500000.00", service_year=year, n=7
            ),
            invoices=invoices(year, 171, "500000.00"),
        ),
        Walk(
            key="checking",
            program="baoding",
            enterprise="gaobeidian-agent",
            target=Status.CHECKING,
            days={"record": 7, "submit": 5, "check": 2},
            contract=baoding_contract(
                f"BD-{year}-HT-0109",
                "jingji",
                "400000.00",
                service_year=year,
                n=8,
                kind="npu",
                description=f"{year}年度昇腾NPU智能算力服务（智能体推理）",
            ),
            invoices=invoices(year, 181, "400000.00"),
        ),
        Walk(
            # ...and the supplier, who has priority, claims the same contract.
            key="submitted",
            program="baoding",
            enterprise="yungu-compute",
            target=Status.SUBMITTED,
            days={"record": 3, "submit": 2},
            contract=baoding_contract(
                f"YG-{year}-0088",
                "gaobeidian-agent",
                "500000.00",
                service_year=year,
                n=7,
                side=Contract.Side.SUPPLIER,
            ),
            invoices=invoices(year, 171, "500000.00"),
        ),
        Walk(
            key="draft",
            program="baoding",
            enterprise="gaobeidian-agent",
            target=Status.DRAFT,
            # Half invoiced and paid, half not yet: below the minimum spend for now.
            days={"record": 1},
            contract=baoding_contract(
                f"BD-{year}-HT-0110", "jizhong", "380000.00", service_year=year, n=9
            ),
            invoices=invoices(year, 191, "190000.00")
            + invoices(year, 192, "190000.00", paid=False),
            proofs=(Kind.CONTRACT,),
        ),
    ]

    def beijing_invoice(serial: int, amount: str, issued: int, paid: int) -> InvoiceSpec:
        return InvoiceSpec(
            number=_invoice_number(year, "11", serial),
            amount=amount,
            issued_on=today - issued * DAY,
            paid_on=today - paid * DAY,
        )

    result += [
        Walk(
            key="voucher",
            program="beijing",
            enterprise="qiming-llm",
            target=Status.APPROVED,
            # 20 % of 1,500,000: a voucher of 300,000 bound to the contract.
            days={
                "record": 118,
                "submit": 115,
                "check": 112,
                "pass": 111,
                "assess": 105,
                "approve": 100,
            },
            contract=ContractSpec(
                number=f"YZ-ZS-{year}-0316",
                counterparty="yizhuang",
                signed_on=today - 120 * DAY,
                starts=today - 110 * DAY,
                ends=today + 255 * DAY,  # 366 days
                amount="1500000.00",
                kind="gpu",
                description="H20 GPU 智能算力服务（256卡，大模型预训练），服务期一年",
            ),
            proofs=(Kind.CONTRACT,),
        ),
        Walk(
            key="redemption",
            program="beijing",
            enterprise="qiming-llm",
            target=Status.APPROVED,
            # The first half-year invoiced and paid: 150,000 drawn on the voucher.
            days={
                "record": 45,
                "submit": 44,
                "check": 40,
                "pass": 39,
                "assess": 34,
                "approve": 30,
            },
            on_contract_of="voucher",
            invoices=(beijing_invoice(1, "750000.00", 60, 56),),
            proofs=(Kind.PAYMENT, Kind.DELIVERY),
        ),
        Walk(
            key="preapproval-checking",
            program="beijing",
            enterprise="zgc-robotics",
            target=Status.CHECKING,
            days={"record": 8, "submit": 4, "check": 1},
            contract=ContractSpec(
                number=f"YZ-ZS-{year}-0402",
                counterparty="yizhuang",
                signed_on=today - 10 * DAY,
                starts=today - 5 * DAY,
                ends=today + 360 * DAY,
                amount="800000.00",
                kind="npu",
                description="昇腾NPU 智能算力服务（具身智能模型训练），服务期一年",
            ),
            proofs=(Kind.CONTRACT,),
        ),
        Walk(
            key="preapproval-draft",
            program="beijing",
            enterprise="zgc-robotics",
            target=Status.DRAFT,
            # A two-year contract: the program funds terms of a year or less.
            days={"record": 6},
            contract=ContractSpec(
                number=f"YZ-ZS-{year}-0417",
                counterparty="yizhuang",
                signed_on=today - 6 * DAY,
                starts=today + 1 * DAY,
                ends=today + 730 * DAY,
                amount="2400000.00",
                kind="gpu",
                description="GPU 智能算力服务（仿真数据生成），服务期两年",
            ),
            proofs=(Kind.CONTRACT,),
            refresh=True,
        ),
    ]
    return result


WRITE_OFF_DECISION = (
    "保定市工信局决定〔{year}〕17号：企业已注销，清算组确认无可供执行财产，报经批准核销 / "
    "Decision 17 of the Baoding bureau: the company is deregistered and its liquidators "
    "found nothing to recover; written off as approved"
)

AGREEMENTS = [
    AgreementStory(
        walk="old-annotate",
        target=Agreement.MET,
        assign=100,
        assess=92,
        measured={"headcount": "86", "local_tax": "318000"},
        report="社保缴纳名单86人，完税证明合计31.8万元，两项目标均已完成。",
        decide=88,
    ),
    AgreementStory(
        walk="old-lianchi",
        target=Agreement.PARTLY_MET,
        # 10 % short on staff, 25 % on tax: 17.5 % of 240,000 = 42,000 back.
        assign=100,
        assess=93,
        measured={"headcount": "27", "local_tax": "150000"},
        report="参保员工27人（目标30人），本地纳税15万元（目标20万元），部分完成。",
        decide=90,
        repay=(70, "20000.00"),
    ),
    AgreementStory(
        walk="old-qingyuan",
        target=Agreement.MISSED,
        # Tax registration moved to Tianjin: nothing paid locally; 95 % back, overdue.
        assign=99,
        assess=94,
        measured={"headcount": "3", "local_tax": "0"},
        report="企业已将税务登记迁至天津市，保定本地仅保留3名员工，当年本地纳税为零。",
        decide=90,
    ),
    AgreementStory(
        walk="old-mancheng",
        target=Agreement.MISSED,
        assign=99,
        assess=94,
        measured={"headcount": "0", "local_tax": "0"},
        report="企业已于年内办理注销登记，无参保员工，无本地纳税。",
        decide=89,
        write_off=(40, WRITE_OFF_DECISION),
    ),
    AgreementStory(
        walk="old-xushui",
        target=Agreement.ASSESSED,
        assign=60,
        assess=12,
        measured={"headcount": "38", "local_tax": "176000"},
        report="参保员工38人，本地纳税17.6万元（目标20万元），税收指标未完全达到。",
    ),
    AgreementStory(walk="old-zhuozhou", target=Agreement.ASSESSMENT, assign=20),
]

# --- Documents ------------------------------------------------------------------------


def _pdf_text(text: str) -> str:
    ascii_only = text.encode("ascii", "replace").decode("ascii")
    return ascii_only.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def demo_pdf(title: str, lines: list[str]) -> bytes:
    """A small valid one-page PDF with ``title`` and ``lines`` (ASCII) in Helvetica."""
    ops = [f"BT /F1 15 Tf 56 780 Td ({_pdf_text(title)}) Tj ET"]
    for n, line in enumerate(lines):
        ops.append(f"BT /F1 10 Tf 56 {748 - 16 * n} Td ({_pdf_text(line)}) Tj ET")
    stream = "\n".join(ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _document(kind: str, contract: Contract, invoices: list[Any]) -> ContentFile[bytes]:
    paid = [i for i in invoices if i.paid_on is not None]
    head = [
        f"Contract No. {contract.number}",
        f"Supplier USCC: {contract.supplier_uscc}",
        f"Buyer USCC: {contract.buyer_uscc}",
    ]
    if kind == Kind.CONTRACT:
        title = "Compute services contract (signed copy)"
        lines = [
            *head,
            f"Signed on: {contract.signed_on.isoformat()}",
            f"Service: {contract.service_starts_on.isoformat()} to "
            f"{contract.service_ends_on.isoformat()} ({contract.term_days} days)",
            f"What it buys: {contract.get_service_kind_display()}",
            f"Contract amount: CNY {contract.amount:,.2f}",
        ]
    elif kind == Kind.PAYMENT:
        title = "Bank payment receipt"
        lines = [
            *head,
            *(
                f"Paid {i.paid_on.isoformat()}: CNY {i.amount:,.2f} (invoice {i.number})"
                for i in paid
            ),
        ]
    else:
        title = "Proof of delivery and usage"
        lines = [
            *head,
            f"Resources delivered from {contract.service_starts_on.isoformat()}",
            "Monthly usage report: job logs and resource monitoring attached",
            *(f"Invoice {i.number}: CNY {i.amount:,.2f}" for i in invoices),
        ]
    lines += ["", "Demo document made by seed_demo: not a real contract or receipt."]
    name = f"{kind}-{contract.number}.pdf"
    return ContentFile(demo_pdf(title, lines), name=name)


# --- Seeding -----------------------------------------------------------------------------


@dataclass
class ClaimDemo:
    """What the claims part of the demo made, for ``seed_demo --json``."""

    districts: list[District]
    programs: list[Program]
    enterprises: list[Enterprise]
    logins: list[dict[str, str]]
    claims: list[dict[str, Any]]
    agreements: list[dict[str, Any]]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def seed_claims(calendar: DemoCalendar) -> ClaimDemo:
    """Bring the claim programs, their people and enterprises up to date,
    make the stories once, and list every claim and agreement."""
    from .seed import DEMO_PASSWORD

    beijing, _ = District.objects.update_or_create(
        code=BEIJING[0], defaults={"name": BEIJING[1], "name_en": BEIJING[2], "parent": None}
    )
    logins = _seed_people()
    enterprises = _seed_enterprises()
    logins += [
        {"role": f"enterprise {spec['key']}", "email": _login(spec), "password": DEMO_PASSWORD}
        for spec in ENTERPRISES
    ]
    programs = _seed_programs(calendar)
    if not Claim.objects.filter(program__in=programs.values()).exists():
        _seed_stories(calendar, programs)
    return ClaimDemo(
        districts=[beijing],
        programs=list(programs.values()),
        enterprises=enterprises,
        logins=logins,
        claims=[
            {
                "id": c.pk,
                "program": c.program_id,
                "enterprise": c.enterprise_id,
                "status": c.status,
                "claimed_amount": _money(c.claimed_amount),
                "approved_amount": _money(c.approved_amount),
                "paid_amount": _money(c.paid_amount),
            }
            for c in Claim.objects.order_by("pk")
        ],
        agreements=[
            {
                "id": a.pk,
                "enterprise": a.enterprise_id,
                "program": a.program_id,
                "status": a.status,
                "receivable": _money(a.receivable.amount) if a.receivable else None,
            }
            for a in PerformanceAgreement.objects.select_related("receivable").order_by("pk")
        ],
    )


def _login(spec: dict[str, Any]) -> str:
    return f"admin@{spec['key']}.example.com"


def _seed_people() -> list[dict[str, str]]:
    from .seed import DEMO_PASSWORD, _user

    logins = []
    for code, email, full_name, roles, label in PEOPLE:
        user = _user(email, full_name)
        district = District.objects.get(code=code)
        for role in roles:
            Membership.objects.get_or_create(user=user, role=role, district=district)
        logins.append({"role": label, "email": email, "password": DEMO_PASSWORD})
    return logins


def _seed_enterprises() -> list[Enterprise]:
    from .seed import _user

    enterprises = []
    for spec in ENTERPRISES:
        fields = {k: v for k, v in spec.items() if k not in {"key", "uscc"}}
        enterprise, _ = Enterprise.objects.update_or_create(
            uscc=spec["uscc"],
            defaults={
                **fields,
                "is_one_person_company": False,
                "status": Enterprise.Status.VERIFIED,
            },
        )
        user = _user(_login(spec), spec["contact_name"])
        Membership.objects.get_or_create(
            user=user, role=Membership.Role.ENTERPRISE_ADMIN, enterprise=enterprise
        )
        enterprises.append(enterprise)
    return enterprises


def _seed_programs(calendar: DemoCalendar) -> dict[str, Program]:
    """The programs, their schedules, opened (the first time) on the day
    before their first window opened, by the district's program manager."""
    programs: dict[str, Program] = {}
    for spec in program_specs(calendar):
        fields = {
            k: v
            for k, v in spec.items()
            if k not in {"key", "district", "name", "schedule", "opened"}
        }
        district = District.objects.get(code=spec["district"])
        with time_machine.travel(_at(spec["opened"], 9), tick=False):
            program, _ = Program.objects.update_or_create(
                district=district, name=spec["name"], defaults=fields
            )
            wanted = spec["schedule"]
            current = [(s.starts_on, s.rate) for s in program.phase_steps.order_by("starts_on")]
            if current != wanted:
                program.phase_steps.all().delete()
                PhaseStep.objects.bulk_create(
                    [PhaseStep(program=program, starts_on=d, rate=r) for d, r in wanted]
                )
            if program.status == Program.Status.DRAFT:
                manager = User.objects.get(email=CASTS[spec["district"]].manager)
                program_open(actor=Actor.for_user(manager), program=program)
        program.refresh_from_db()
        programs[spec["key"]] = program
    return programs


class _Stories:
    """The walks and agreement stories put on one timeline."""

    def __init__(self, calendar: DemoCalendar, programs: dict[str, Program]) -> None:
        from .seed import ENTERPRISES as DEMO_ENTERPRISES

        self.today = calendar.today
        self.programs = programs
        specs = [s for s in DEMO_ENTERPRISES if s["key"] in EXISTING] + ENTERPRISES
        self.enterprises = {s["key"]: Enterprise.objects.get(uscc=s["uscc"]) for s in specs}
        self.timeline = _Timeline()
        self.contracts: dict[str, Contract] = {}
        self.claims: dict[str, int] = {}
        self.program_of: dict[str, Program] = {}
        self._step = 0

    # -- helpers

    def at(self, days_ago: int, hour: int, step: Callable[[], object]) -> None:
        # A few minutes apart, so that steps of one day keep their order.
        self._step += 1
        moment = _at(self.today - days_ago * DAY, hour, self._step % 50)
        self.timeline.at(moment, step)

    def admin(self, enterprise_key: str) -> Actor:
        membership = Membership.objects.select_related("user").get(
            enterprise=self.enterprises[enterprise_key], role=Membership.Role.ENTERPRISE_ADMIN
        )
        return Actor.for_user(membership.user)

    @staticmethod
    def person(email: str) -> Actor:
        return Actor.for_user(User.objects.get(email=email))

    def claim(self, key: str) -> Claim:
        return Claim.objects.get(pk=self.claims[key])

    def counterparty(self, key: str) -> tuple[str, str]:
        if key in SUPPLIERS:
            return SUPPLIERS[key]
        enterprise = self.enterprises[key]
        return enterprise.uscc, enterprise.name

    # -- a claim's walk

    def plan(self, walk: Walk) -> None:
        program = self.programs[walk.program]
        self.program_of[walk.key] = program
        code = program.district.code
        cast = CASTS[code]
        admin = self.admin(walk.enterprise)
        reviewer = self.person(cast.reviewer)
        days = walk.days

        def record() -> None:
            if walk.on_contract_of is not None:
                contract = Contract.objects.get(pk=self.contracts[walk.on_contract_of].pk)
            else:
                spec = walk.contract
                assert spec is not None
                uscc, name = self.counterparty(spec.counterparty)
                contract = services.contract_record(
                    actor=admin,
                    enterprise=self.enterprises[walk.enterprise],
                    side=spec.side,
                    number=spec.number,
                    counterparty_uscc=uscc,
                    counterparty_name=name,
                    signed_on=spec.signed_on,
                    service_starts_on=spec.starts,
                    service_ends_on=spec.ends,
                    amount=Decimal(spec.amount),
                    service_kind=spec.kind,
                    description=spec.description,
                )
            recorded = [
                services.invoice_record(
                    actor=admin,
                    contract=contract,
                    number=invoice.number,
                    issued_on=invoice.issued_on,
                    amount=Decimal(invoice.amount),
                    service_kind=contract.service_kind,
                    paid_on=invoice.paid_on,
                )
                for invoice in walk.invoices
            ]
            for kind in walk.proofs:
                services.contract_document_add(
                    actor=admin,
                    contract=contract,
                    kind=kind,
                    upload=_document(kind, contract, recorded or list(contract.invoices.all())),
                )
            self.contracts[walk.key] = contract
            claim = services.claim_create(actor=admin, program=program, contract=contract)
            if walk.refresh:
                claim = services.claim_refresh(actor=admin, claim=claim)
            self.claims[walk.key] = claim.pk

        self.at(days["record"], 10, record)
        if walk.target == Status.DRAFT:
            return
        if walk.target == Status.WITHDRAWN:
            self.at(
                days["withdraw"],
                11,
                lambda: services.claim_withdraw(actor=admin, claim=self.claim(walk.key)),
            )
            return

        def submit() -> None:
            services.claim_submit(
                actor=admin,
                claim=self.claim(walk.key),
                declaration=True,
                payee_bank=PAYEE_BANKS[code],
                payee_account=f"62166102{self.enterprises[walk.enterprise].pk:08d}",
            )

        self.at(days["submit"], 15, submit)
        if "check" not in days:
            return
        self.at(
            days["check"],
            9,
            lambda: services.claim_start_check(actor=reviewer, claim=self.claim(walk.key)),
        )
        for number, reason in walk.exclude:

            def exclude(number: str = number, reason: str = reason) -> None:
                services.claim_exclude_invoice(
                    actor=reviewer, claim=self.claim(walk.key), number=number, reason=reason
                )

            self.at(days["check"], 11, exclude)
        if walk.target == Status.RETURNED:
            self.at(
                days["return"],
                16,
                lambda: services.claim_return(
                    actor=reviewer, claim=self.claim(walk.key), reason=walk.reason
                ),
            )
            return
        if walk.target == Status.REJECTED:
            self.at(
                days["reject"],
                16,
                lambda: services.claim_reject(
                    actor=reviewer, claim=self.claim(walk.key), reason=walk.reason
                ),
            )
            return
        if walk.target == Status.CHECKING:
            return
        assessor = User.objects.get(email=cast.assessor)
        self.at(
            days["pass"],
            16,
            lambda: services.claim_pass_on(
                actor=reviewer, claim=self.claim(walk.key), findings=CHECK, assessor=assessor
            ),
        )
        if walk.target == Status.ASSESSMENT:
            return

        def assess() -> None:
            claim = self.claim(walk.key)
            recommended = (
                Decimal(walk.recommended)
                if walk.recommended is not None
                else claim.amount_for_approval
            )
            services.claim_assess(
                actor=Actor.for_user(assessor),
                claim=claim,
                findings=walk.assessment,
                recommended=recommended,
            )

        self.at(days["assess"], 14, assess)
        if walk.target == Status.FINANCE:
            return
        finance = self.person(cast.finance)
        self.at(
            days["approve"],
            10,
            lambda: services.claim_approve(actor=finance, claim=self.claim(walk.key)),
        )

        def second_approval() -> None:
            claim = self.claim(walk.key)
            if claim.status == Status.FINANCE:
                assert cast.second_finance is not None
                services.claim_approve(actor=self.person(cast.second_finance), claim=claim)

        self.at(days["approve"] - 1, 10, second_approval)
        for n, part in enumerate(walk.payments):

            def pay(n: int = n, part: str = part) -> None:
                claim = self.claim(walk.key)
                services.claim_payment_record(
                    actor=finance,
                    claim=claim,
                    amount=claim.outstanding if part == "rest" else Decimal(part),
                    paid_on=timezone.localdate(),
                    payer_account=cast.payer_account,
                    bank_reference=f"DEMO-CLAIM-{walk.key.upper()}-{n + 1:02d}",
                )

            self.at(days["pay"] - 7 * n, 11, pay)

    # -- an agreement's story

    def plan_agreement(self, story: AgreementStory) -> None:
        from settlements.agreements import (
            agreement_assign,
            agreement_decide,
            agreement_record_assessment,
        )
        from settlements.receivables import receivable_repay, receivable_write_off

        cast = CASTS[self.program_of[story.walk].district.code]

        def agreement() -> PerformanceAgreement:
            return PerformanceAgreement.objects.get(claim_id=self.claims[story.walk])

        assessor = User.objects.get(email=cast.assessor)
        self.at(
            story.assign,
            10,
            lambda: agreement_assign(
                actor=self.person(cast.manager), agreement=agreement(), assessor=assessor
            ),
        )
        if story.assess is None:
            return
        self.at(
            story.assess,
            15,
            lambda: agreement_record_assessment(
                actor=Actor.for_user(assessor),
                agreement=agreement(),
                measured={k: Decimal(v) for k, v in story.measured.items()},
                report=story.report,
            ),
        )
        if story.decide is None:
            return
        assert cast.second_manager is not None
        decider = self.person(cast.second_manager)
        self.at(story.decide, 11, lambda: agreement_decide(actor=decider, agreement=agreement()))
        if story.repay is not None:
            days_ago, amount = story.repay

            def repay() -> None:
                receivable = agreement().receivable
                assert receivable is not None
                receivable_repay(
                    actor=self.person(cast.finance),
                    receivable=receivable,
                    amount=Decimal(amount),
                    paid_on=timezone.localdate(),
                    reference=f"DEMO-REPAY-{story.walk.upper()}-01",
                )

            self.at(days_ago, 14, repay)
        if story.write_off is not None:
            days_ago, decision = story.write_off

            def write_off() -> None:
                receivable = agreement().receivable
                assert receivable is not None and cast.second_finance is not None
                receivable_write_off(
                    actor=self.person(cast.second_finance),
                    receivable=receivable,
                    amount=receivable.outstanding,
                    reason=decision.format(year=timezone.localdate().year),
                )

            self.at(days_ago, 15, write_off)


def _seed_stories(calendar: DemoCalendar, programs: dict[str, Program]) -> None:
    stories = _Stories(calendar, programs)
    for walk in walks(calendar):
        stories.plan(walk)
    for story in AGREEMENTS:
        stories.plan_agreement(story)
    stories.timeline.run()
