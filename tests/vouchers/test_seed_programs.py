"""The demo: schedules, Jianghan's published rule, applications in every state, idempotent."""

from __future__ import annotations

from typing import Any

import pytest

from applications.models import Application
from demo.seed import seed
from eligibility.evaluator import evaluate
from programs.models import Program
from programs.phasedown import exit_date, steps_of

pytestmark = pytest.mark.django_db


def _snapshot() -> Any:
    return (
        sorted(Application.objects.values_list("status", flat=True)),
        sorted(Program.objects.values_list("name_en", "status", "reserved_amount")),
    )


def test_seed_demo_covers_every_state_and_runs_twice_to_the_same_data() -> None:
    seed()
    first = _snapshot()
    assert set(first[0]) == set(Application.Status.values)
    for program in Program.objects.all():
        assert program.status == Program.Status.OPEN
        assert exit_date(steps_of(program)) is not None
    jianghan = Program.objects.get(name_en__startswith="Jianghan Compute")
    assert jianghan.rule_set is not None
    assert jianghan.rule_set.definition() == {
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
    # Wuhan's track admits the one-person company that Jianghan's threshold shuts out.
    opc = Application.objects.get(
        program__name_en__startswith="Wuhan", enterprise__is_one_person_company=True
    ).enterprise
    wuhan = Program.objects.get(name_en__startswith="Wuhan")
    assert opc.is_one_person_company
    assert evaluate(wuhan.rule_set, opc).eligible
    assert not evaluate(jianghan.rule_set, opc).eligible
    seed()
    assert _snapshot() == first
