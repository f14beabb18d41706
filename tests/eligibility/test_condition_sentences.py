"""A condition reads as a sentence, in both languages, for every operator and unit.

``eligibility.evaluator.condition_sentence`` is the one function that turns a
stored (fact, operator, value) into what an official reads: the rule editor,
the preview of who qualifies and the decision tables all go through it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from eligibility.evaluator import condition_sentence, evaluate, record_rows
from eligibility.facts import FACTS, Fact, FactType, register
from tests.accounts.factories import EnterpriseFactory
from tests.eligibility.factories import rule_set
from tests.vouchers.factories import client_for, official, with_mfa

pytestmark = pytest.mark.django_db


def said(fact: str, op: str, value: Any) -> tuple[str, str]:
    """The sentence in English and in Chinese."""
    with translation.override("en"):
        english = condition_sentence(fact, op, value)
    with translation.override("zh-hans"):
        chinese = condition_sentence(fact, op, value)
    return english, chinese


@pytest.mark.parametrize(
    ("op", "english", "chinese"),
    [
        ("gte", "Prior-year revenue is at least ¥5 million", "上年度营业收入 不少于 500 万元"),
        ("gt", "Prior-year revenue is more than ¥5 million", "上年度营业收入 多于 500 万元"),
        ("lte", "Prior-year revenue is at most ¥5 million", "上年度营业收入 不超过 500 万元"),
        ("lt", "Prior-year revenue is less than ¥5 million", "上年度营业收入 少于 500 万元"),
        ("eq", "Prior-year revenue is ¥5 million", "上年度营业收入 为 500 万元"),
        ("ne", "Prior-year revenue is not ¥5 million", "上年度营业收入 不为 500 万元"),
    ],
)
def test_a_money_condition_reads_with_grouping_and_in_wan_in_chinese(
    op: str, english: str, chinese: str
) -> None:
    assert said("prior_year_revenue", op, "5000000") == (english, chinese)


def test_a_small_or_uneven_sum_keeps_its_yuan_and_fen() -> None:
    assert said("local_tax_paid", "gte", "3000") == (
        "Local tax paid last year is at least ¥3,000",
        "上年度本地纳税额 不少于 3,000 元",
    )
    assert said("local_tax_paid", "gte", "1234567.5") == (
        "Local tax paid last year is at least ¥1,234,567.50",
        "上年度本地纳税额 不少于 ¥1,234,567.50",
    )


def test_a_count_reads_with_its_unit_in_the_right_number() -> None:
    assert said("headcount", "gte", "20") == (
        "Headcount is at least 20 people",
        "从业人数 不少于 20 人",
    )
    assert said("headcount", "lt", "1") == ("Headcount is less than 1 person", "从业人数 少于 1 人")
    assert said("years_since_founding", "gte", "2") == (
        "Years since founding is at least 2 years",
        "成立年限 不少于 2 年",
    )


@pytest.mark.parametrize(
    ("op", "value", "english", "chinese"),
    [
        ("eq", "yes", "One-person company: yes", "一人公司：是"),
        ("eq", "no", "One-person company: no", "一人公司：否"),
        ("ne", "yes", "One-person company: no", "一人公司：否"),
        ("ne", "no", "One-person company: yes", "一人公司：是"),
    ],
)
def test_a_yes_no_condition_reads_as_the_answer_it_requires(
    op: str, value: str, english: str, chinese: str
) -> None:
    assert said("is_one_person_company", op, value) == (english, chinese)


def test_districts_are_listed_by_name(jianghan: Any, guiyang: Any) -> None:
    assert said("registered_division", "within", "420103, 520100") == (
        "Registered division (from the USCC) is within Jianghan, Guiyang",
        "登记地行政区划（依据统一社会信用代码） 位于 江汉区、贵阳市",
    )
    assert said("registered_division", "not_within", "420103") == (
        "Registered division (from the USCC) is outside Jianghan",
        "登记地行政区划（依据统一社会信用代码） 不在 江汉区",
    )


def test_a_division_without_a_district_here_reads_with_its_official_name() -> None:
    english, chinese = said("registered_division", "within", "420106")
    assert english == "Registered division (from the USCC) is within 武昌区 (420106)"
    assert chinese == "登记地行政区划（依据统一社会信用代码） 位于 武昌区 (420106)"


@pytest.mark.parametrize(
    ("op", "english", "chinese"),
    [
        (
            "in",
            "Industry (GB/T 4754 section) is one of: Manufacturing (C), "
            "Scientific research and technical services (M)",
            "所属行业（GB/T 4754 门类） 为以下之一：制造业 (C)、科学研究和技术服务业 (M)",
        ),
        (
            "not_in",
            "Industry (GB/T 4754 section) is none of: Manufacturing (C), "
            "Scientific research and technical services (M)",
            "所属行业（GB/T 4754 门类） 不属于以下任一：制造业 (C)、科学研究和技术服务业 (M)",
        ),
    ],
)
def test_a_choice_condition_lists_the_labels(op: str, english: str, chinese: str) -> None:
    assert said("industry", op, "C, M") == (english, chinese)


@pytest.fixture
def share_fact() -> Iterator[None]:
    register(
        Fact("rd_share", _("share of staff in R&D"), FactType.PERCENT, lambda e, c: Decimal("40"))
    )
    yield
    FACTS.pop("rd_share")


def test_a_percentage_condition_reads_as_a_percentage(share_fact: None) -> None:
    english, chinese = said("rd_share", "gte", "12.5")
    assert english == "Share of staff in R&D is at least 12.5%"
    assert chinese.endswith(" 不少于 12.5%")


def test_a_condition_that_does_not_check_reads_as_stored() -> None:
    assert said("no_such_fact", "gte", "5") == ("no_such_fact gte 5", "no_such_fact gte 5")


JIANGHAN = {
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


def test_the_decision_table_rows_carry_the_sentence_in_the_active_language(
    jianghan: Any,
) -> None:
    rs = rule_set(jianghan, JIANGHAN)
    record = evaluate(rs, EnterpriseFactory(division="420103", headcount=1)).as_record()
    with translation.override("zh-hans"):
        rows = record_rows(record)
    assert [row["condition"] for row in rows] == [
        "满足以下全部条件",
        "登记地行政区划（依据统一社会信用代码） 位于 江汉区",
        "至少满足以下一项条件",
        "上年度营业收入 不少于 500 万元",
        "从业人数 不少于 20 人",
    ]
    assert rows[4]["found"] == "1 人"


def test_a_record_frozen_before_sentences_still_reads_as_sentences(jianghan: Any) -> None:
    rs = rule_set(jianghan, JIANGHAN)
    record = evaluate(rs, EnterpriseFactory(division="420103", headcount=1)).as_record()
    for line in record["lines"]:
        for texts in line["text"].values():
            texts.pop("condition")
    with translation.override("en"):
        rows = record_rows(record)
    assert rows[4]["condition"] == "Headcount is at least 20 people"
    assert rows[4]["found"] == "1 person"


@pytest.mark.parametrize(
    ("language", "sentence", "raw"),
    [
        ("en", "Prior-year revenue is at least ¥5 million", "prior_year_revenue gte 5000000"),
        ("zh-hans", "上年度营业收入 不少于 500 万元", "prior_year_revenue gte 5000000"),
    ],
)
def test_the_rule_editor_list_and_preview_show_sentences_not_keys(
    jianghan: Any, language: str, sentence: str, raw: str
) -> None:
    rs = rule_set(jianghan, JIANGHAN, name="Jianghan")
    EnterpriseFactory(division="420103", headcount=30, prior_year_revenue=Decimal("8200000"))
    user = with_mfa(
        official(jianghan, Membership.Role.PROGRAM_MANAGER, preferred_language=language)
    )
    client = client_for(user)
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    pages = [
        reverse("admin:eligibility_ruleset_change", args=[rs.pk]),
        reverse("admin:eligibility_ruleset_changelist"),
        reverse("admin:eligibility_ruleset_preview", args=[rs.pk]),
    ]
    for url in pages:
        page = client.get(url, **headers).content.decode()
        assert sentence in page, url
        assert raw not in page, url
