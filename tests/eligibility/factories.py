"""Factories for the eligibility tests: rule sets."""

from __future__ import annotations

from typing import Any

from accounts.models import District
from eligibility.models import RuleNode, RuleSet, definition_to_rows


def rule_set(district: District, definition: dict[str, Any], name: str = "Rules") -> RuleSet:
    """A rule set of ``district`` holding ``definition`` (the JSON of the rule editor)."""
    rs = RuleSet.objects.create(district=district, name=name, name_en=name)
    combinator, rows = definition_to_rows(definition)
    rs.combinator = combinator
    rs.save()
    RuleNode.objects.bulk_create([RuleNode(rule_set=rs, **row) for row in rows])
    return rs
