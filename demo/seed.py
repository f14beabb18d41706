"""The demo data, from the news reports the project started from (shared/seeds).

Every figure that the reports publish is used as published: Jianghan's
10 M token / 10 M compute / 5 M model / 5 M data vouchers and its "revenue
≥ 5 M yuan or ≥ 20 staff" threshold, Wuhan's 100 M compute vouchers open to
one-person companies, Guiyang's 140 M nationwide at up to 30 %, Baoding's up
to 300,000 yuan for buyers of more than 300,000 yuan a year, and Shanghai
Telecom's 250,000 points per yuan. Figures the reports do not give (caps,
windows, Baoding's total) are marked "demo figure" where they are set.

The enterprises and people are fictional; their USCCs are valid codes made
for the demo (registered in the demo districts), not real companies' codes;
so are the platforms' bank accounts.

Beside the programs, applications, vouchers and a month of usage, the demo
has settlements with the platforms in every state (``demo.seed_settlements``)
and the districts' finance officers who approve and pay them, and the
programs that pay after purchase — Baoding's reimbursement and a
Beijing-style contract voucher — with claims and performance agreements in
every state (``demo.seed_claims``).

Idempotent: every row is found by its natural key and brought up to date;
passwords are set only when a user is first created.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.db import transaction

from accounts.models import ComputePlatform, District, Enterprise, Membership, User
from accounts.uscc import check_character
from programs.models import Program

from .calendar import DemoCalendar
from .seed_audit import seed_audit
from .seed_claims import seed_claims
from .seed_platforms import seed_platform_catalogs
from .seed_programs import seed_programs
from .seed_settlements import seed_finance_officers, seed_settlements
from .seed_usage import demo_anomalies, seed_usage
from .seed_vouchers import seed_vouchers

DEMO_PASSWORD = "Voucher-Demo-2026"
# Shanghai Telecom's token package: one yuan buys 250,000 quota points
# (≈ 250,000 input tokens on Kimi-K2.5).
POINTS_PER_YUAN = 250_000

DISTRICTS = [
    # code, name, name_en, parent code
    ("420100", "武汉市", "Wuhan", None),
    ("420103", "江汉区", "Jianghan District, Wuhan", "420100"),
    ("520100", "贵阳市", "Guiyang", None),
    ("130600", "保定市", "Baoding", None),
]

PLATFORMS: list[dict[str, Any]] = [
    {
        "slug": "jianghan-token",
        "name": "江汉区词元服务平台",
        "name_en": "Jianghan Token Service Platform",
        "operator": "武汉江汉词元科技有限公司",
        "districts": ["420103", "420100"],
        "on_national_list": False,
        "bank_name": "中国工商银行武汉江汉支行",
        "bank_account_number": "3202 0009 1920 0158 861",
    },
    {
        "slug": "wuhan-aicc",
        "name": "武汉人工智能计算中心",
        "name_en": "Wuhan AI Computing Center",
        "operator": "武汉智算中心运营有限公司",
        "districts": ["420100", "420103"],
        "on_national_list": True,
        "bank_name": "招商银行武汉分行营业部",
        "bank_account_number": "1279 0862 4710 501",
    },
    {
        "slug": "tianyi-cloud",
        "name": "天翼云词元平台",
        "name_en": "Tianyi Cloud Token Platform",
        "operator": "中国电信天翼云",
        "districts": ["520100", "130600"],
        "on_national_list": True,
        "bank_name": "中国银行北京西城支行",
        "bank_account_number": "3409 6582 1037",
    },
]


def demo_uscc(division: str, serial: str) -> str:
    """A valid USCC for a demo enterprise (market regulation, enterprise, MA… serial)."""
    first17 = f"91{division}MA{serial}"
    assert len(first17) == 17, first17
    return first17 + check_character(first17)


ENTERPRISES: list[dict[str, Any]] = [
    {
        "key": "hanjiang",
        "name": "武汉汉江智算科技有限公司",
        "uscc": demo_uscc("420103", "4KD7X2Q"),
        "legal_representative": "陈立华",
        "contact_name": "周敏",
        "contact_phone": "027-8561-2201",
        "address": "武汉市江汉区建设大道568号",
        "headcount": 35,
        "prior_year_revenue": Decimal("8200000.00"),
        "local_tax_paid": Decimal("410000.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2019, 5, 14),
        "is_one_person_company": False,
        "status": Enterprise.Status.VERIFIED,
        "login": "admin@hanjiang-ai.example.com",
    },
    {
        "key": "chutian-opc",
        "name": "武汉楚天小模型工作室（一人有限公司）",
        "uscc": demo_uscc("420103", "4LA0N8T"),
        "legal_representative": "李想",
        "contact_name": "李想",
        "contact_phone": "139-0710-3321",
        "address": "武汉市江汉区青年路OPC社区3号楼",
        "headcount": 1,
        "prior_year_revenue": Decimal("310000.00"),
        "local_tax_paid": Decimal("9300.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2025, 3, 2),
        "is_one_person_company": True,
        "status": Enterprise.Status.VERIFIED,
        "login": "lixiang@chutian-opc.example.com",
    },
    {
        "key": "wuchang-label",
        "name": "武汉武昌数标科技有限公司",
        "uscc": demo_uscc("420106", "4HT5R1M"),
        "legal_representative": "王海",
        "contact_name": "刘洋",
        "contact_phone": "027-8765-1102",
        "address": "武汉市武昌区中北路109号",
        "headcount": 24,
        "prior_year_revenue": Decimal("2100000.00"),
        "local_tax_paid": Decimal("95000.00"),
        "industry": Enterprise.Industry.RESEARCH,
        "founded_on": datetime.date(2021, 9, 30),
        "is_one_person_company": False,
        "status": Enterprise.Status.VERIFIED,
        "login": "admin@wuchang-label.example.com",
    },
    {
        "key": "zhucheng-data",
        "name": "贵州筑城数据科技有限公司",
        "uscc": demo_uscc("520115", "6DQ3W9K"),
        "legal_representative": "杨帆",
        "contact_name": "吴静",
        "contact_phone": "0851-8822-4410",
        "address": "贵阳市观山湖区长岭北路大数据大厦",
        "headcount": 60,
        "prior_year_revenue": Decimal("12500000.00"),
        "local_tax_paid": Decimal("730000.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2017, 11, 8),
        "is_one_person_company": False,
        "status": Enterprise.Status.VERIFIED,
        "login": "admin@zhucheng-data.example.com",
    },
    {
        "key": "baoding-annotate",
        "name": "保定标注智能科技有限公司",
        "uscc": demo_uscc("130602", "0B4U8E3"),
        "legal_representative": "赵强",
        "contact_name": "孙丽",
        "contact_phone": "0312-590-7788",
        "address": "保定市竞秀区七一西路2222号",
        "headcount": 80,
        "prior_year_revenue": Decimal("6300000.00"),
        "local_tax_paid": Decimal("288000.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2020, 6, 18),
        "is_one_person_company": False,
        "status": Enterprise.Status.VERIFIED,
        "login": "admin@baoding-annotate.example.com",
    },
    {
        # The operator of the Jianghan token platform, registered as an
        # enterprise too, with the same legal representative as Hanjiang:
        # the related-party and shared-contact stories of seed_usage.
        "key": "jianghan-ciyuan",
        "name": "武汉江汉词元科技有限公司",
        "uscc": demo_uscc("420103", "4JT9C3W"),
        "legal_representative": "陈立华",
        "contact_name": "高远",
        "contact_phone": "027-8561-7730",
        "address": "武汉市江汉区发展大道99号",
        "headcount": 18,
        "prior_year_revenue": Decimal("5600000.00"),
        "local_tax_paid": Decimal("260000.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2022, 8, 8),
        "is_one_person_company": False,
        "status": Enterprise.Status.VERIFIED,
        "login": "admin@jianghan-ciyuan.example.com",
    },
    {
        "key": "pujiang-agent",
        "name": "上海浦江智能体科技有限公司",
        "uscc": demo_uscc("310115", "1FR6K4P"),
        "legal_representative": "黄磊",
        "contact_name": "徐晨",
        "contact_phone": "021-6088-3390",
        "address": "上海市浦东新区张江路88号",
        "headcount": 45,
        "prior_year_revenue": Decimal("20400000.00"),
        "local_tax_paid": Decimal("1150000.00"),
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": datetime.date(2018, 2, 26),
        "is_one_person_company": False,
        "status": Enterprise.Status.PENDING,
        "login": "admin@pujiang-agent.example.com",
    },
]

JIANGHAN_RULE_SUMMARY = (
    "申请条件：上年度营业收入不低于500万元或团队规模不少于20人；企业须在江汉区注册。",
    "Eligibility: prior-year revenue of at least 5 million yuan or a team of at least 20; "
    "registered in Jianghan District.",
)


def program_specs(calendar: DemoCalendar) -> list[dict[str, Any]]:
    """The demo programs, named for the program year of ``calendar``."""
    year = calendar.year
    return [
        {
            "district": "420103",
            "name": f"{year}年江汉区词元券",
            "name_en": f"Jianghan Token Vouchers {year}",
            "kind": Program.Kind.TOKEN,
            "unit": Program.Unit.POINTS,
            # 10 M yuan a year, held in normalized points at 250,000 points per yuan.
            "total_budget": Decimal(10_000_000 * POINTS_PER_YUAN),
            "per_enterprise_cap": Decimal(200_000 * POINTS_PER_YUAN),  # demo figure
            "per_charge_cap": None,
            "base_rate": Decimal("1"),
            "summary": "每年1000万元词元券，补贴企业词元使用成本，按归一化词元点数计量。"
            + JIANGHAN_RULE_SUMMARY[0],
            "summary_en": "10 million yuan a year of token vouchers for enterprises' token costs, "
            "held in normalized token points. " + JIANGHAN_RULE_SUMMARY[1],
            "platforms": ["jianghan-token", "wuhan-aicc"],
        },
        {
            "district": "420103",
            "name": f"{year}年江汉区算力券",
            "name_en": f"Jianghan Compute Vouchers {year}",
            "kind": Program.Kind.COMPUTE,
            "unit": Program.Unit.CNY,
            "total_budget": Decimal("10000000.00"),
            "per_enterprise_cap": Decimal("500000.00"),  # demo figure
            "per_charge_cap": Decimal("50000.00"),  # demo figure
            "base_rate": Decimal("0.30"),  # "reduce computing costs by 30–40 %"
            "summary": "每年1000万元算力券，支持企业优先使用绿色算力。" + JIANGHAN_RULE_SUMMARY[0],
            "summary_en": "10 million yuan a year of compute vouchers for green computing. "
            + JIANGHAN_RULE_SUMMARY[1],
            "platforms": ["wuhan-aicc"],
        },
        {
            "district": "420103",
            "name": f"{year}年江汉区模型券",
            "name_en": f"Jianghan Model Vouchers {year}",
            "kind": Program.Kind.MODEL,
            "unit": Program.Unit.CNY,
            "total_budget": Decimal("5000000.00"),
            "per_enterprise_cap": Decimal("300000.00"),  # demo figure
            "per_charge_cap": Decimal("30000.00"),  # demo figure
            "base_rate": Decimal("0.30"),
            "summary": "每年500万元模型券，支持大模型与智能体研发。" + JIANGHAN_RULE_SUMMARY[0],
            "summary_en": "5 million yuan a year of model vouchers for large-model and agent "
            "development. " + JIANGHAN_RULE_SUMMARY[1],
            "platforms": ["jianghan-token", "wuhan-aicc"],
        },
        {
            "district": "420103",
            "name": f"{year}年江汉区数据券",
            "name_en": f"Jianghan Data Vouchers {year}",
            "kind": Program.Kind.DATA,
            "unit": Program.Unit.CNY,
            "total_budget": Decimal("5000000.00"),
            "per_enterprise_cap": Decimal("200000.00"),  # demo figure
            "per_charge_cap": Decimal("20000.00"),  # demo figure
            "base_rate": Decimal("0.30"),
            "summary": "每年500万元数据券，支持数据产品采购与交易。" + JIANGHAN_RULE_SUMMARY[0],
            "summary_en": "5 million yuan a year of data vouchers for buying and trading data "
            "products. " + JIANGHAN_RULE_SUMMARY[1],
            "platforms": ["jianghan-token"],
        },
        {
            "district": "420100",
            "name": f"{year}年武汉市算力券",
            "name_en": f"Wuhan Compute Vouchers {year}",
            "kind": Program.Kind.COMPUTE,
            "unit": Program.Unit.CNY,
            "total_budget": Decimal("100000000.00"),
            "per_enterprise_cap": Decimal("1000000.00"),  # demo figure
            "per_charge_cap": Decimal("100000.00"),  # demo figure
            "base_rate": Decimal("0.30"),  # demo figure
            "summary": "1亿元算力券，年可用算力约15000 PFlops，面向高校、科研院所、企业及OPC社区一人公司。",
            "summary_en": "100 million yuan of compute vouchers (about 15,000 PFlops a year) for "
            "universities, institutes, enterprises and one-person companies in OPC communities.",
            "platforms": ["wuhan-aicc", "jianghan-token"],
        },
        {
            "district": "520100",
            "name": f"{year}年贵阳市算力券（全国）",
            "name_en": f"Guiyang Compute Vouchers {year} (nationwide)",
            "kind": Program.Kind.COMPUTE,
            "unit": Program.Unit.CNY,
            "total_budget": Decimal("140000000.00"),
            "per_enterprise_cap": Decimal("1000000.00"),  # demo figure
            "per_charge_cap": Decimal("100000.00"),  # demo figure
            "base_rate": Decimal("0.30"),  # "subsidies up to 30 %"
            "summary": "自2026年4月起面向全国发放1.4亿元算力券，符合条件的企业最高享受30%算力补贴。",
            "summary_en": "140 million yuan of compute vouchers, nationwide from April 2026; eligible "
            "enterprises get up to 30 % of their compute bill covered.",
            "platforms": ["tianyi-cloud"],
            "cross_region": True,
            "opens": calendar.opens_guiyang,
        },
        {
            "district": "130600",
            "name": f"{year}年保定市数智券",
            "name_en": f"Baoding Digital-Intelligence Vouchers {year}",
            "kind": Program.Kind.COMPUTE,
            "unit": Program.Unit.CNY,
            "total_budget": Decimal("30000000.00"),  # demo figure
            "per_enterprise_cap": Decimal("300000.00"),
            "per_charge_cap": None,
            "base_rate": Decimal("0.30"),  # demo figure
            "summary": "年度算力采购超过30万元的企业，最高可获30万元数智券补贴。",
            "summary_en": "Enterprises buying more than 300,000 yuan of compute a year receive up to "
            "300,000 yuan in digital-intelligence vouchers.",
            "platforms": ["tianyi-cloud"],
            "opens": calendar.opens_baoding,
        },
    ]


OFFICIALS = [
    ("420100", "official@wuhan.example.gov.cn", "武汉市数据局 张伟"),
    ("420103", "official@jianghan.example.gov.cn", "江汉区科经局 王芳"),
    ("520100", "official@guiyang.example.gov.cn", "贵阳市大数据局 刘军"),
    ("130600", "official@baoding.example.gov.cn", "保定市工信局 赵敏"),
]
OFFICIAL_ROLES = [
    Membership.Role.PROGRAM_MANAGER,
    Membership.Role.REVIEWER,
    Membership.Role.AUDITOR,
]
SUPERUSER_EMAIL = "admin@platform.example.com"


def _user(email: str, full_name: str, *, superuser: bool = False) -> User:
    user, created = User.objects.get_or_create(
        email=email, defaults={"full_name": full_name, "is_superuser": superuser}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    elif user.full_name != full_name or user.is_superuser != superuser:
        user.full_name = full_name
        user.is_superuser = superuser
        user.save(update_fields=["full_name", "is_superuser"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


@transaction.atomic
def seed() -> dict[str, Any]:
    """Create or update the demo data and return a summary of it."""
    districts: dict[str, District] = {}
    for code, name, name_en, parent in DISTRICTS:
        districts[code], _ = District.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "parent": districts[parent] if parent else None,
            },
        )

    platforms: dict[str, ComputePlatform] = {}
    for spec in PLATFORMS:
        platform, _ = ComputePlatform.objects.update_or_create(
            slug=spec["slug"],
            defaults={
                "name": spec["name"],
                "name_en": spec["name_en"],
                "operator": spec["operator"],
                "on_national_list": spec["on_national_list"],
                # Where the districts pay the platform's settlements (demo
                # accounts; the payee is the operating company).
                "bank_account_name": spec["operator"],
                "bank_name": spec["bank_name"],
                "bank_account_number": spec["bank_account_number"],
            },
        )
        platform.districts_served.set([districts[c] for c in spec["districts"]])
        platforms[spec["slug"]] = platform
    seed_platform_catalogs(platforms)

    programs: list[Program] = []
    calendar = DemoCalendar.now()
    for spec in program_specs(calendar):
        program, _ = Program.objects.update_or_create(
            district=districts[spec["district"]],
            name=spec["name"],
            defaults={
                "name_en": spec["name_en"],
                "summary": spec["summary"],
                "summary_en": spec["summary_en"],
                "kind": spec["kind"],
                "unit": spec["unit"],
                "total_budget": spec["total_budget"],
                "per_enterprise_cap": spec["per_enterprise_cap"],
                "per_charge_cap": spec["per_charge_cap"],
                "base_rate": spec["base_rate"],
                "application_opens_on": spec.get("opens", calendar.opens),
                "application_closes_on": calendar.closes,
                "cross_region": spec.get("cross_region", False),
            },
        )
        program.platforms.set([platforms[s] for s in spec["platforms"]])
        programs.append(program)

    logins: list[dict[str, str]] = []
    superuser = _user(SUPERUSER_EMAIL, "Platform administrator", superuser=True)
    logins.append({"role": "superuser", "email": superuser.email, "password": DEMO_PASSWORD})

    for code, email, full_name in OFFICIALS:
        user = _user(email, full_name)
        for role in OFFICIAL_ROLES:
            Membership.objects.get_or_create(user=user, role=role, district=districts[code])
        logins.append({"role": f"official {code}", "email": email, "password": DEMO_PASSWORD})

    enterprises: list[Enterprise] = []
    for spec in ENTERPRISES:
        fields = {k: v for k, v in spec.items() if k not in {"key", "uscc", "login"}}
        enterprise, _ = Enterprise.objects.update_or_create(uscc=spec["uscc"], defaults=fields)
        enterprises.append(enterprise)
        user = _user(spec["login"], spec["contact_name"])
        Membership.objects.get_or_create(
            user=user, role=Membership.Role.ENTERPRISE_ADMIN, enterprise=enterprise
        )
        logins.append(
            {"role": f"enterprise {spec['key']}", "email": user.email, "password": DEMO_PASSWORD}
        )

    for slug, platform in platforms.items():
        email = f"operator@{slug}.example.com"
        # A stored name, in the demo's language like the officials' ("江汉区科经局 王芳").
        user = _user(email, f"{platform.name} 运营专员")
        Membership.objects.get_or_create(
            user=user, role=Membership.Role.PLATFORM_OPERATOR, platform=platform
        )
        logins.append({"role": f"platform {slug}", "email": email, "password": DEMO_PASSWORD})

    # Schedules, rules, opening (through the service), reviewers, applications.
    logins += seed_programs(programs, calendar)
    logins += seed_finance_officers()

    uscc_by_key = {s["key"]: s["uscc"] for s in ENTERPRISES}
    vouchers = seed_vouchers(programs=programs, enterprises=enterprises, uscc_by_key=uscc_by_key)
    # A month of usage with planted frauds; settlements of past months in
    # every state; then the detectors over the last 30 days.
    seed_usage(programs=programs, enterprises=enterprises, uscc_by_key=uscc_by_key)
    settlements = seed_settlements(
        programs=programs, enterprises=enterprises, uscc_by_key=uscc_by_key
    )
    # Reimbursement claims and contract vouchers, with their agreements.
    claims = seed_claims(calendar)
    logins += claims.logins
    programs += claims.programs
    enterprises += claims.enterprises
    flags = demo_anomalies()
    return {
        "vouchers": vouchers,
        "settlements": settlements,
        "claims": claims.claims,
        "agreements": claims.agreements,
        "districts": [
            {"id": d.pk, "code": d.code, "name": d.name, "name_en": d.name_en}
            for d in [*districts.values(), *claims.districts]
        ],
        "platforms": [{"id": p.pk, "slug": p.slug, "name": p.name} for p in platforms.values()],
        "programs": [
            {
                "id": p.pk,
                "district": p.district.code,
                "name": p.name,
                "kind": p.kind,
                "unit": p.unit,
                "total_budget": f"{p.total_budget:.2f}",
                "status": p.status,
            }
            for p in programs
        ],
        "enterprises": [
            {"id": e.pk, "name": e.name, "uscc": e.uscc, "division_code": e.uscc[2:8]}
            for e in enterprises
        ],
        "logins": logins,
        "anomaly_flags": flags,
        "audit": seed_audit(),
    }
