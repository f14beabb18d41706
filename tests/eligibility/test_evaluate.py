"""evaluate(): nested groups, each operator, and the explanation lines."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from eligibility.evaluator import (
    OPERATORS,
    RuleError,
    check_definition,
    evaluate,
    evaluate_definition,
)
from eligibility.facts import Context
from tests.accounts.factories import EnterpriseFactory
from tests.eligibility.factories import rule_set

pytestmark = pytest.mark.django_db

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


def test_a_large_jianghan_enterprise_passes_with_a_line_per_condition_and_group() -> None:
    enterprise = EnterpriseFactory(
        division="420103", headcount=35, prior_year_revenue=Decimal("8200000")
    )
    decision = evaluate_definition(JIANGHAN, enterprise)
    assert decision.eligible
    kinds = [(line.path, line.kind, line.passed) for line in decision.lines]
    assert kinds == [
        ("", "all", True),
        ("1", "condition", True),
        ("2", "any", True),
        ("2.1", "condition", True),
        ("2.2", "condition", True),
    ]


def test_a_one_person_company_fails_the_threshold_and_the_explanation_says_why() -> None:
    enterprise = EnterpriseFactory(
        division="420103",
        headcount=1,
        prior_year_revenue=Decimal("310000"),
        is_one_person_company=True,
    )
    decision = evaluate_definition(JIANGHAN, enterprise)
    assert not decision.eligible
    with translation.override("en"):
        reasons = decision.failed_reasons()
    assert reasons == [
        "prior-year revenue: found 310,000 yuan, required at least 5,000,000 yuan",
        "headcount: found 1 person, required at least 20 people",
    ]


def test_locality_is_read_from_the_uscc_not_declared() -> None:
    outside = EnterpriseFactory(division="420106")
    decision = evaluate_definition(JIANGHAN, outside)
    assert not decision.eligible
    line = decision.lines[1]
    with translation.override("en"):
        texts = line.texts()
    assert texts["found"] == "420106"
    assert texts["required"] == "inside division 420103"
    assert not line.passed


def test_a_city_code_covers_its_districts() -> None:
    enterprise = EnterpriseFactory(division="420103")
    rule = {"all": [{"fact": "registered_division", "op": "within", "value": "420100"}]}
    assert evaluate_definition(rule, enterprise).eligible
    rule = {"all": [{"fact": "registered_division", "op": "not_within", "value": "420100"}]}
    assert not evaluate_definition(rule, enterprise).eligible


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("gte", "30", True),
        ("gte", "31", False),
        ("gt", "29", True),
        ("gt", "30", False),
        ("lte", "30", True),
        ("lte", "29", False),
        ("lt", "31", True),
        ("lt", "30", False),
        ("eq", "30", True),
        ("eq", "31", False),
        ("ne", "31", True),
        ("ne", "30", False),
    ],
)
def test_each_numeric_operator(op: str, value: str, expected: bool) -> None:
    enterprise = EnterpriseFactory(headcount=30)
    rule = {"all": [{"fact": "headcount", "op": op, "value": value}]}
    assert evaluate_definition(rule, enterprise).eligible is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [("in", "I, M", True), ("in", "C", False), ("not_in", "C", True), ("not_in", "I", False)],
)
def test_each_choice_operator(op: str, value: str, expected: bool) -> None:
    enterprise = EnterpriseFactory(industry="I")
    rule = {"all": [{"fact": "industry", "op": op, "value": value}]}
    assert evaluate_definition(rule, enterprise).eligible is expected


def test_boolean_facts_and_the_one_person_company_track() -> None:
    opc = EnterpriseFactory(is_one_person_company=True, headcount=1)
    rule = {
        "any": [
            {"fact": "is_one_person_company", "op": "eq", "value": "yes"},
            {"fact": "headcount", "op": "gte", "value": "10"},
        ]
    }
    decision = evaluate_definition(rule, opc)
    assert decision.eligible
    with translation.override("en"):
        assert decision.lines[1].texts() == {
            "label": "one-person company",
            "found": "yes",
            "required": "yes",
        }


@pytest.mark.parametrize(
    ("op", "value", "required_en", "required_zh"),
    [("eq", "yes", "yes", "是"), ("eq", "no", "no", "否"), ("ne", "yes", "no", "否")],
)
def test_a_yes_no_requirement_reads_as_the_answer_required(
    op: str, value: str, required_en: str, required_zh: str
) -> None:
    rule = {"all": [{"fact": "is_one_person_company", "op": op, "value": value}]}
    decision = evaluate_definition(rule, EnterpriseFactory(is_one_person_company=False))
    with translation.override("en"):
        assert decision.lines[1].texts()["required"] == required_en
    with translation.override("zh-hans"):
        assert decision.lines[1].texts()["required"] == required_zh


def test_years_since_founding_counts_whole_years_on_the_day() -> None:
    enterprise = EnterpriseFactory(founded_on=datetime.date(2024, 6, 1))
    rule = {"all": [{"fact": "years_since_founding", "op": "gte", "value": "2"}]}
    before = Context(on=datetime.date(2026, 5, 31))
    on_day = Context(on=datetime.date(2026, 6, 1))
    assert not evaluate_definition(rule, enterprise, context=before).eligible
    assert evaluate_definition(rule, enterprise, context=on_day).eligible


def test_nested_any_inside_all_inside_any() -> None:
    enterprise = EnterpriseFactory(headcount=5, prior_year_revenue=Decimal("100"), industry="M")
    rule = {
        "any": [
            {"fact": "headcount", "op": "gte", "value": "100"},
            {
                "all": [
                    {"fact": "industry", "op": "in", "value": "M"},
                    {
                        "any": [
                            {"fact": "prior_year_revenue", "op": "gte", "value": "1000000"},
                            {"fact": "headcount", "op": "gte", "value": "5"},
                        ]
                    },
                ]
            },
        ]
    }
    decision = evaluate_definition(rule, enterprise)
    assert decision.eligible
    assert [line.depth for line in decision.lines] == [0, 1, 1, 2, 2, 3, 3]


def test_every_operator_is_exercised_above() -> None:
    assert set(OPERATORS) == {
        "gte",
        "gt",
        "lte",
        "lt",
        "eq",
        "ne",
        "in",
        "not_in",
        "within",
        "not_within",
    }


def test_malformed_rules_are_refused_with_where_and_why() -> None:
    problems = check_definition(
        {
            "all": [
                {"fact": "headcount", "op": "within", "value": "1"},
                {"fact": "nonsense", "op": "gte", "value": "1"},
                {"fact": "headcount", "op": "gte", "value": "many"},
                {"any": []},
            ]
        }
    )
    assert len(problems) == 4
    assert problems[0].startswith("1: ")
    assert "does not apply to headcount" in problems[0]
    assert "Unknown fact" in problems[1]
    assert "“many” is not a number" in problems[2]
    assert "at least one member" in problems[3]
    with pytest.raises(RuleError):
        evaluate_definition(
            {"all": [{"fact": "nonsense", "op": "gte", "value": 1}]}, EnterpriseFactory()
        )


def test_the_frozen_record_carries_the_text_in_both_languages(jianghan: Any) -> None:
    rs = rule_set(jianghan, JIANGHAN, name="Jianghan")
    enterprise = EnterpriseFactory(division="420103", headcount=1, prior_year_revenue=Decimal("0"))
    record = evaluate(rs, enterprise).as_record()
    assert record["eligible"] is False
    revenue = record["lines"][3]
    assert revenue["fact"] == "prior_year_revenue"
    assert revenue["found"] == "0"
    assert set(revenue["text"]) == {"zh-hans", "en"}
    assert revenue["text"]["en"]["required"] == "at least 5,000,000 yuan"


def test_no_rule_set_admits_everyone() -> None:
    assert evaluate(None, EnterpriseFactory()).eligible


def test_a_fact_or_operator_that_is_not_a_string_is_a_problem_not_a_crash() -> None:
    # An imported tree is any JSON (hypothesis found a list as the fact: a 500).
    from eligibility.evaluator import check_definition

    assert len(check_definition({"fact": [], "op": "eq", "value": 1})) == 1
    assert len(check_definition({"all": [{"fact": "employees", "op": {"x": 1}, "value": 1}]})) == 1
