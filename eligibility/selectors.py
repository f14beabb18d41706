"""Reads of the eligibility app."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.models import Enterprise

from .evaluator import Decision, evaluate
from .facts import Context, today
from .models import RuleSet


@dataclass
class PreviewRow:
    enterprise: Enterprise
    decision: Decision


@dataclass
class Preview:
    """Who would qualify under a rule set, among the given enterprises."""

    passing: list[PreviewRow]
    failing: list[PreviewRow]

    @property
    def total(self) -> int:
        return len(self.passing) + len(self.failing)


def rule_set_get_for_evaluation(*, pk: int) -> RuleSet:
    return RuleSet.objects.prefetch_related("nodes").get(pk=pk)


def rule_set_preview(*, rule_set: RuleSet, enterprises: QuerySet[Enterprise]) -> Preview:
    """Evaluate ``rule_set`` for every enterprise in ``enterprises``."""
    context = Context(on=today())
    definition = rule_set.definition()
    from .evaluator import evaluate_definition

    passing: list[PreviewRow] = []
    failing: list[PreviewRow] = []
    for enterprise in enterprises.order_by("name"):
        decision = evaluate_definition(
            definition, enterprise, context=context, name=rule_set.display_name
        )
        (passing if decision.eligible else failing).append(PreviewRow(enterprise, decision))
    return Preview(passing=passing, failing=failing)


__all__ = ["Preview", "PreviewRow", "evaluate", "rule_set_get_for_evaluation", "rule_set_preview"]
