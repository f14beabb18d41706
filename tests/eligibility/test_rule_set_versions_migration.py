"""The migration to versioned rule sets keeps existing data working."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("eligibility", "0001_initial"),
    ("vouchers", "0014_separation_of_duties_four_eyes_frozen_and_bulk_batches"),
]
AFTER = [
    ("eligibility", "0004_rule_set_versions_guards"),
    ("vouchers", "0015_rule_set_versions_in_programs_and_applications"),
]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_rule_sets_become_version_1_and_programs_and_applications_keep_them() -> None:
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        apps = _migrate(BEFORE)
        District = apps.get_model("accounts", "District")
        Enterprise = apps.get_model("accounts", "Enterprise")
        RuleSet = apps.get_model("eligibility", "RuleSet")
        RuleNode = apps.get_model("eligibility", "RuleNode")
        Program = apps.get_model("vouchers", "Program")
        Application = apps.get_model("vouchers", "Application")

        jianghan = District.objects.create(code="420103", name="江汉区", name_en="Jianghan")
        in_use_draft = RuleSet.objects.create(district=jianghan, name="In use", status="draft")
        unused_draft = RuleSet.objects.create(district=jianghan, name="Unused", status="draft")
        published = RuleSet.objects.create(district=jianghan, name="Published", status="published")
        for rs in (in_use_draft, unused_draft, published):
            RuleNode.objects.create(
                rule_set=rs, path="1", kind="condition", fact="headcount", operator="gte", value="1"
            )
        today = datetime.date(2026, 1, 1)
        program_fields = {
            "district": jianghan,
            "kind": "compute",
            "unit": "CNY",
            "total_budget": Decimal("1000000"),
            "per_enterprise_cap": Decimal("100000"),
            "base_rate": Decimal("0.3"),
            "application_opens_on": today,
            "application_closes_on": today + datetime.timedelta(days=365),
        }
        program_a = Program.objects.create(name="A", rule_set=in_use_draft, **program_fields)
        program_b = Program.objects.create(name="B", rule_set=published, **program_fields)
        enterprise = Enterprise.objects.create(
            name="Co",
            uscc="91420103MA4K3Q7R5X",
            legal_representative="Rep",
            contact_name="C",
            contact_phone="027-1",
            headcount=10,
            prior_year_revenue=Decimal("1"),
            local_tax_paid=Decimal("1"),
            industry="I",
            founded_on=today,
        )
        submitted = Application.objects.create(
            enterprise=enterprise,
            program=program_a,
            requested_amount=Decimal("100"),
            purpose="p",
            status="under_review",
            eligibility_decision={"eligible": True, "rule_set": "In use", "lines": []},
        )
        draft_app = Application.objects.create(
            enterprise=enterprise,
            program=program_b,
            requested_amount=Decimal("100"),
            purpose="p",
            status="draft",
        )

        apps = _migrate(AFTER)
        RuleSet = apps.get_model("eligibility", "RuleSet")
        Program = apps.get_model("vouchers", "Program")
        Application = apps.get_model("vouchers", "Application")
        rule_sets = {rs.name: rs for rs in RuleSet.objects.all()}
        assert {rs.version for rs in rule_sets.values()} == {1}
        assert len({rs.lineage for rs in rule_sets.values()}) == 3
        assert rule_sets["In use"].status == "published"  # a program applies it
        assert rule_sets["In use"].published_at is not None
        assert rule_sets["Published"].status == "published"
        assert rule_sets["Unused"].status == "draft"
        assert Program.objects.get(pk=program_a.pk).rule_set_id == in_use_draft.pk
        assert Program.objects.get(pk=program_b.pk).rule_set_id == published.pk
        assert Application.objects.get(pk=submitted.pk).rule_set_id == in_use_draft.pk
        assert Application.objects.get(pk=draft_app.pk).rule_set_id is None
    finally:
        _migrate(leaves)
