"""The rule-set editor (rows), JSON import/export, and the "who would qualify" preview."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Membership
from audit.models import AuditEvent
from eligibility.models import RuleSet, definition_to_rows, row_problems, rows_to_definition
from tests.accounts.factories import EnterpriseFactory
from tests.eligibility.factories import rule_set
from tests.vouchers.factories import client_for, official, with_mfa

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


def test_rows_and_json_convert_both_ways() -> None:
    combinator, rows = definition_to_rows(JIANGHAN)
    assert combinator == "all"
    assert [(r["path"], r["kind"]) for r in rows] == [
        ("1", "condition"),
        ("2", "any"),
        ("2.1", "condition"),
        ("2.2", "condition"),
    ]
    assert rows_to_definition(combinator, rows) == JIANGHAN


def test_row_problems_name_the_row() -> None:
    rows = [
        {"path": "1", "kind": "condition"},
        {"path": "1", "kind": "condition"},
        {"path": "3.1", "kind": "condition"},
        {"path": "4", "kind": "any"},
        {"path": "x", "kind": "condition"},
    ]
    problems = row_problems(rows)
    assert "used twice" in problems[1][0]
    assert "needs a group row at 3" in problems[2][0]
    assert "is empty" in problems[3][0]
    assert "not a position" in problems[4][0]
    assert 0 not in problems


@pytest.fixture
def manager_client(jianghan: Any) -> tuple[Any, Any]:
    user = with_mfa(official(jianghan, Membership.Role.PROGRAM_MANAGER))
    client = client_for(user)
    return client, user


def _inline_post(rows: list[dict[str, str]], **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "nodes-TOTAL_FORMS": str(len(rows)),
        "nodes-INITIAL_FORMS": "0",
        "nodes-MIN_NUM_FORMS": "0",
        "nodes-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"nodes-{i}-{key}"] = value
    return data


def test_a_manager_builds_jianghans_rule_with_rows(manager_client: Any, jianghan: Any) -> None:
    client, _user = manager_client
    _comb, rows = definition_to_rows(JIANGHAN)
    response = client.post(
        reverse("admin:eligibility_ruleset_add"),
        _inline_post(rows, district=jianghan.pk, name="江汉", name_en="Jianghan", combinator="all"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert "/ruleset/" in response["Location"], response["Location"]
    rs = RuleSet.objects.get(name="江汉")
    assert rs.definition() == JIANGHAN


def test_the_editor_puts_errors_beside_the_row(manager_client: Any, jianghan: Any) -> None:
    client, _user = manager_client
    rows = [
        {
            "path": "1",
            "kind": "condition",
            "fact": "headcount",
            "operator": "within",
            "value": "20",
        },
        {
            "path": "2.1",
            "kind": "condition",
            "fact": "headcount",
            "operator": "gte",
            "value": "lots",
        },
    ]
    response = client.post(
        reverse("admin:eligibility_ruleset_add"),
        _inline_post(rows, district=jianghan.pk, name="Bad", combinator="all"),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "does not apply to headcount" in body
    assert "“lots” is not a number" in body
    assert "needs a group row at 2" in body
    # What was typed is still there.
    assert 'value="lots"' in body
    assert not RuleSet.objects.filter(name="Bad").exists()


def test_export_and_import_round_trip_and_are_audited(manager_client: Any, jianghan: Any) -> None:
    client, _user = manager_client
    source = rule_set(jianghan, JIANGHAN, name="Source")
    target = rule_set(
        jianghan, {"all": [{"fact": "headcount", "op": "gte", "value": "1"}]}, "Target"
    )
    exported = client.get(reverse("admin:eligibility_ruleset_export", args=[source.pk]))
    assert exported.status_code == 200
    response = client.post(
        reverse("admin:eligibility_ruleset_import", args=[target.pk]),
        {"definition": exported.content.decode()},
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.definition() == JIANGHAN
    assert AuditEvent.objects.filter(
        event_type="rule_set.imported", object_id=str(target.pk)
    ).exists()


def test_a_malformed_import_is_refused_and_keeps_the_text(
    manager_client: Any, jianghan: Any
) -> None:
    client, _user = manager_client
    target = rule_set(jianghan, {"all": [{"fact": "headcount", "op": "gte", "value": "1"}]}, "T")
    bad = json.dumps({"all": [{"fact": "headcount", "op": "in", "value": "1"}]})
    response = client.post(
        reverse("admin:eligibility_ruleset_import", args=[target.pk]), {"definition": bad}
    )
    assert response.status_code == 200
    assert "does not apply to headcount" in response.content.decode()
    assert "&quot;headcount&quot;" in response.content.decode()
    target.refresh_from_db()
    assert target.definition() == {"all": [{"fact": "headcount", "op": "gte", "value": "1"}]}


def test_the_preview_counts_and_lists_who_would_qualify(manager_client: Any, jianghan: Any) -> None:
    client, _user = manager_client
    rs = rule_set(jianghan, JIANGHAN, name="Preview")
    big = EnterpriseFactory(division="420103", headcount=40, name="Big Co")
    EnterpriseFactory(
        division="420103", headcount=1, prior_year_revenue=Decimal("0"), name="Tiny OPC"
    )
    EnterpriseFactory(division="520100", name="Far Away")  # not visible to Jianghan
    response = client.get(reverse("admin:eligibility_ruleset_preview", args=[rs.pk]))
    assert response.status_code == 200
    preview = response.context["preview"]
    assert [row.enterprise for row in preview.passing] == [big]
    assert [row.enterprise.name for row in preview.failing] == ["Tiny OPC"]
    body = response.content.decode()
    assert "1 of 2 registered enterprises" in body
    assert "Far Away" not in body


def test_another_districts_official_cannot_see_or_preview_the_rule_set(
    jianghan: Any, guiyang: Any
) -> None:
    rs = rule_set(jianghan, JIANGHAN, name="Private")
    user = with_mfa(official(guiyang, Membership.Role.PROGRAM_MANAGER))
    client = client_for(user)
    assert client.get(reverse("admin:eligibility_ruleset_preview", args=[rs.pk])).status_code == 404
    assert client.get(reverse("admin:eligibility_ruleset_export", args=[rs.pk])).status_code == 404


def test_a_reviewer_may_preview_but_not_import(jianghan: Any) -> None:
    rs = rule_set(jianghan, JIANGHAN, name="ReadOnly")
    user = with_mfa(official(jianghan, Membership.Role.REVIEWER))
    client = client_for(user)
    assert client.get(reverse("admin:eligibility_ruleset_preview", args=[rs.pk])).status_code == 200
    response = client.post(
        reverse("admin:eligibility_ruleset_import", args=[rs.pk]),
        {"definition": json.dumps(JIANGHAN)},
    )
    assert response.status_code == 403
