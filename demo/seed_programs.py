"""Demo programs brought to life: phase-down schedules, eligibility rule sets
(Jianghan's published threshold, Wuhan's one-person-company track), a second
reviewer per district for the four-eyes rule, and applications in every state.

Everything goes through the services (opening, submitting, reviewing), so the
demo's audit trail and budget counters are what real use would produce.
Idempotent: schedules and rules are brought up to date, programs are opened
only while in draft, and an application is made only when its enterprise has
none for that program yet.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile

from accounts.models import District, Enterprise, Membership, User
from applications.models import Application
from applications.services import (
    application_approve,
    application_document_add,
    application_reject,
    application_return,
    application_save_draft,
    application_start_review,
    application_submit,
    application_withdraw,
)
from audit.services import Actor
from eligibility.models import RuleSet, definition_to_rows
from eligibility.services import rule_set_import, rule_set_new_version, rule_set_publish
from programs.models import PhaseStep, Program
from programs.services import program_adopt_rule_set, program_open

from .calendar import DemoCalendar

SECOND_REVIEWERS = {
    "420100": ("reviewer2@wuhan.example.gov.cn", "武汉市数据局 陈静"),
    "420103": ("reviewer2@jianghan.example.gov.cn", "江汉区科经局 李强"),
    "520100": ("reviewer2@guiyang.example.gov.cn", "贵阳市大数据局 黄丽"),
    "130600": ("reviewer2@baoding.example.gov.cn", "保定市工信局 孙涛"),
}

JIANGHAN_RULE = {
    "all": [
        {"fact": "registered_division", "op": "within", "value": "420103"},
        {
            "any": [
                {"fact": "prior_year_revenue", "op": "gte", "value": "5000000"},
                {"fact": "headcount", "op": "gte", "value": "20"},
            ]
        },
    ]
}
WUHAN_RULE = {
    "all": [
        {"fact": "registered_division", "op": "within", "value": "420100"},
        {
            "any": [
                {"fact": "is_one_person_company", "op": "eq", "value": "yes"},
                {"fact": "headcount", "op": "gte", "value": "10"},
                {"fact": "prior_year_revenue", "op": "gte", "value": "1000000"},
            ]
        },
    ]
}
GUIYANG_RULE = {
    "all": [
        {"fact": "funded_this_year_same_kind", "op": "eq", "value": "no"},
        {"fact": "years_since_founding", "op": "gte", "value": "1"},
    ]
}
BAODING_RULE = {
    "all": [
        {"fact": "registered_division", "op": "within", "value": "130600"},
        {"fact": "local_tax_paid", "op": "gt", "value": "0"},
    ]
}

RULE_SETS: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
    # district, name, name_en, description, description_en, definition
    (
        "420103",
        "江汉区人工智能券申报条件",
        "Jianghan AI voucher conditions",
        "上年度营业收入不低于500万元或团队规模不少于20人，且在江汉区注册。",
        "Prior-year revenue of at least 5 million yuan or a team of at least 20, "
        "and registered in Jianghan District (as published).",
        JIANGHAN_RULE,
    ),
    (
        "420100",
        "武汉市算力券申报条件（含一人公司通道）",
        "Wuhan compute voucher conditions (with a one-person-company track)",
        "在武汉市注册；一人公司可直接申报，其他企业须有10人以上团队或上年营收100万元以上。",
        "Registered in Wuhan; one-person companies qualify directly, other enterprises need "
        "10 staff or 1 million yuan of prior-year revenue (demo figures).",
        WUHAN_RULE,
    ),
    (
        "520100",
        "贵阳市算力券申报条件（全国）",
        "Guiyang compute voucher conditions (nationwide)",
        "本年度未获其他地区同类券；成立满一年。",
        "Not funded this year for the same kind by another district; founded at least a year ago.",
        GUIYANG_RULE,
    ),
    (
        "130600",
        "保定市数智券申报条件",
        "Baoding voucher conditions",
        "在保定市注册并在当地纳税。",
        "Registered in Baoding and paying local tax.",
        BAODING_RULE,
    ),
]

OBLIGATIONS = (
    "获券企业须自获券之日起三年内保持在本地纳税登记；违反者按比例追回补贴。",
    "The enterprise keeps its local tax registration for three years from the grant; "
    "a breach leads to a proportional clawback.",
)

# A minimal, valid one-page PDF for the demo applications' documents.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _user(email: str, full_name: str) -> User:
    from .seed import _user as seed_user

    return seed_user(email, full_name)


def _schedule_for(program: Program, calendar: DemoCalendar) -> list[tuple[datetime.date, Decimal]]:
    # Dated steps of the rate, ending in an exit (0) — the seeds' lesson that
    # subsidies must end. Token vouchers start at full cover (rate 1).
    if program.base_rate == 1:
        return calendar.schedule_full()
    if program.district.code == "520100":
        return calendar.schedule_guiyang()
    return calendar.schedule_30()


def _set_schedule(program: Program, calendar: DemoCalendar) -> None:
    wanted = _schedule_for(program, calendar)
    current = [(s.starts_on, s.rate) for s in program.phase_steps.order_by("starts_on")]
    if current != wanted:
        program.phase_steps.all().delete()
        PhaseStep.objects.bulk_create(
            [PhaseStep(program=program, starts_on=d, rate=r) for d, r in wanted]
        )


def _rule_sets(officials: dict[str, User]) -> dict[str, RuleSet]:
    """The newest published version of each demo rule set, as RULE_SETS has it.

    A second run changes nothing; when RULE_SETS changed, the change becomes
    the next version (a published version never changes), and the programs
    adopt it below.
    """
    result: dict[str, RuleSet] = {}
    for code, name, name_en, description, description_en, definition in RULE_SETS:
        district = District.objects.get(code=code)
        actor = (
            Actor.system("seed_demo") if code not in officials else Actor.for_user(officials[code])
        )
        texts = {"name_en": name_en, "description": description, "description_en": description_en}
        versions = list(RuleSet.objects.filter(district=district, name=name).order_by("-version"))
        published = next((v for v in versions if v.is_published()), None)
        draft = next((v for v in versions if not v.is_published()), None)
        if published is not None and _same(published, texts, definition):
            result[code] = published
            continue
        if draft is None and published is not None:
            combinator, rows = definition_to_rows(definition)
            draft = rule_set_new_version(
                actor=actor,
                rule_set=published,
                changes={**texts, "name": name, "combinator": combinator},
                rows=rows,
            )
        elif draft is None:
            draft = RuleSet.objects.create(district=district, name=name, **texts)
        if any(getattr(draft, k) != v for k, v in texts.items()):
            for key, value in texts.items():
                setattr(draft, key, value)
            draft.save(update_fields=[*texts, "updated_at"])
        if _normalised(draft.definition()) != _normalised(definition):
            draft = rule_set_import(actor=actor, rule_set=draft, definition=definition)
        result[code] = rule_set_publish(actor=actor, rule_set=draft)
    return result


def _same(rule_set: RuleSet, texts: dict[str, str], definition: dict[str, Any]) -> bool:
    return all(getattr(rule_set, k) == v for k, v in texts.items()) and _normalised(
        rule_set.definition()
    ) == _normalised(definition)


def _normalised(definition: dict[str, Any]) -> Any:
    from eligibility.models import definition_to_rows

    return definition_to_rows(definition)


def _official(code: str) -> User:
    from .seed import OFFICIALS

    email = next(e for c, e, _n in OFFICIALS if c == code)
    return User.objects.get(email=email)


def _enterprise_user(enterprise: Enterprise) -> User:
    membership = Membership.objects.filter(
        enterprise=enterprise, role=Membership.Role.ENTERPRISE_ADMIN
    ).select_related("user")
    first = membership.first()
    assert first is not None
    return first.user


# (enterprise key, program name_en prefix, amount, purpose, target state)
APPLICATIONS: list[tuple[str, str, Decimal, str, str]] = [
    (
        "hanjiang",
        "Jianghan Compute",
        Decimal("200000.00"),
        "训练面向政务热线的中文语音大模型，预计使用昇腾算力约 8 万卡时。",
        Application.Status.APPROVED,
    ),
    (
        "hanjiang",
        "Jianghan Token",
        Decimal(150_000 * 250_000),
        "企业知识库智能体上线，预计年调用词元约 375 亿（归一化点数）。",
        Application.Status.AWAITING_SECOND_APPROVAL,
    ),
    (
        "hanjiang",
        "Jianghan Model",
        Decimal("120000.00"),
        "采购行业大模型微调服务（草稿）。",
        Application.Status.DRAFT,
    ),
    (
        "hanjiang",
        "Jianghan Data",
        Decimal("80000.00"),
        "采购长江航运公开数据产品，用于物流调度模型。",
        Application.Status.SUBMITTED,
    ),
    (
        "chutian-opc",
        "Wuhan Compute",
        Decimal("50000.00"),
        "一人公司：训练方言识别小模型，使用武汉人工智能计算中心算力。",
        Application.Status.UNDER_REVIEW,
    ),
    (
        "wuchang-label",
        "Wuhan Compute",
        Decimal("400000.00"),
        "数据标注平台的自动预标注模型训练。",
        Application.Status.RETURNED,
    ),
    (
        "zhucheng-data",
        "Guiyang Compute",
        Decimal("800000.00"),
        "全国范围的数据中心能耗预测模型训练与推理。",
        Application.Status.APPROVED,
    ),
    (
        "baoding-annotate",
        "Baoding",
        Decimal("300000.00"),
        "年度算力采购约 45 万元，用于自动驾驶数据标注模型。",
        Application.Status.REJECTED,
    ),
    (
        "pujiang-agent",
        "Guiyang Compute",
        Decimal("300000.00"),
        "智能体平台推理算力（已撤回）。",
        Application.Status.WITHDRAWN,
    ),
]


def _make_application(
    *,
    enterprise: Enterprise,
    program: Program,
    amount: Decimal,
    purpose: str,
    target: str,
    reviewer: User,
    second_reviewer: User,
) -> Application:
    applicant = Actor.for_user(_enterprise_user(enterprise))
    first = Actor.for_user(reviewer)
    second = Actor.for_user(second_reviewer)
    application = application_save_draft(
        actor=applicant,
        enterprise=enterprise,
        program=program,
        requested_amount=amount,
        purpose=purpose,
    )
    application_document_add(
        actor=applicant,
        application=application,
        upload=ContentFile(DEMO_PDF, name="business-licence.pdf"),
    )
    if target == Application.Status.DRAFT:
        return application
    if target == Application.Status.WITHDRAWN:
        application_submit(actor=applicant, application=application)
        return application_withdraw(actor=applicant, application=application)
    application = application_submit(actor=applicant, application=application)
    if target == Application.Status.SUBMITTED:
        return application
    application = application_start_review(actor=first, application=application)
    if target == Application.Status.UNDER_REVIEW:
        return application
    if target == Application.Status.RETURNED:
        return application_return(
            actor=first,
            application=application,
            note="请补充近一年的算力采购合同，并说明预标注模型的训练数据来源。",
        )
    if target == Application.Status.REJECTED:
        return application_reject(
            actor=first,
            application=application,
            note="未能提供年度算力采购超过30万元的证明材料。",
        )
    application = application_approve(actor=first, application=application)
    if application.status == Application.Status.AWAITING_SECOND_APPROVAL:
        if target == Application.Status.AWAITING_SECOND_APPROVAL:
            return application
        application = application_approve(actor=second, application=application)
    return application


def seed_programs(programs: list[Program], calendar: DemoCalendar) -> list[dict[str, str]]:
    """Schedules, rules, second reviewers, opening and applications; returns
    the second reviewers' logins."""
    from .seed import DEMO_PASSWORD, ENTERPRISES

    logins: list[dict[str, str]] = []
    second: dict[str, User] = {}
    for code, (email, full_name) in SECOND_REVIEWERS.items():
        user = _user(email, full_name)
        Membership.objects.get_or_create(
            user=user, role=Membership.Role.REVIEWER, district=District.objects.get(code=code)
        )
        second[code] = user
        logins.append(
            {"role": f"second reviewer {code}", "email": email, "password": DEMO_PASSWORD}
        )

    officials = {code: _official(code) for code in SECOND_REVIEWERS}
    rule_sets = _rule_sets(officials)

    for program in programs:
        program.refresh_from_db()
        code = program.district.code
        _set_schedule(program, calendar)
        changed = []
        if program.rule_set_id != rule_sets[code].pk:
            program_adopt_rule_set(
                actor=Actor.for_user(officials[code]), program=program, rule_set=rule_sets[code]
            )
            program.refresh_from_db()
        threshold = (program.per_enterprise_cap / 2).quantize(Decimal("0.01"))
        if program.four_eyes_threshold != threshold:
            program.four_eyes_threshold = threshold
            changed.append("four_eyes_threshold")
        if program.obligations != OBLIGATIONS[0]:
            program.obligations, program.obligations_en = OBLIGATIONS
            changed += ["obligations", "obligations_en"]
        if changed:
            program.save(update_fields=changed)
        if program.status == Program.Status.DRAFT:
            program_open(actor=Actor.for_user(officials[code]), program=program)
        program.refresh_from_db()

    uscc_by_key = {spec["key"]: spec["uscc"] for spec in ENTERPRISES}
    for key, prefix, amount, purpose, target in APPLICATIONS:
        enterprise = Enterprise.objects.get(uscc=uscc_by_key[key])
        program = next(p for p in programs if p.name_en.startswith(prefix))
        if Application.objects.filter(enterprise=enterprise, program=program).exists():
            continue
        code = program.district.code
        _make_application(
            enterprise=enterprise,
            program=program,
            amount=amount,
            purpose=purpose,
            target=target,
            reviewer=officials[code],
            second_reviewer=second[code],
        )
    for program in programs:
        program.refresh_from_db()
    return logins
