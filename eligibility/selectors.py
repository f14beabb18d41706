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


def rule_set_versions(*, rule_set: RuleSet) -> QuerySet[RuleSet]:
    """Every version of ``rule_set``'s lineage, newest first."""
    return RuleSet.objects.filter(lineage=rule_set.lineage).order_by("-version")


def rule_set_draft_of(*, rule_set: RuleSet) -> RuleSet | None:
    """The draft version of ``rule_set``'s lineage, if there is one."""
    return rule_set_versions(rule_set=rule_set).filter(status=RuleSet.Status.DRAFT).first()


def rule_set_newer_published(*, rule_set: RuleSet) -> RuleSet | None:
    """The newest published version of ``rule_set``'s lineage if it is newer than
    ``rule_set`` (what a program using ``rule_set`` could adopt), else None."""
    return (
        rule_set_versions(rule_set=rule_set)
        .filter(status=RuleSet.Status.PUBLISHED, version__gt=rule_set.version)
        .first()
    )


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


__all__ = [
    "Preview",
    "PreviewRow",
    "evaluate",
    "rule_set_draft_of",
    "rule_set_get_for_evaluation",
    "rule_set_newer_published",
    "rule_set_preview",
    "rule_set_versions",
]
