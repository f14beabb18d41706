"""Reads of the eligibility app."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import QuerySet

from accounts.models import District, Enterprise
from accounts.scoping import home_district_id
from audit import events
from audit.models import AuditEvent
from audit.object_types import object_type_of

from .evaluator import Decision, evaluate
from .facts import Context, today
from .models import RuleSet
from .services import VERIFIED_FIELDS


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


@dataclass
class Verification:
    """Where an enterprise stands with its district's verification, and why.

    ``changed`` are the labels of the verified fields the enterprise changed
    since it was last verified (empty when it waits since registering, or the
    district itself set it back); ``since`` is when the wait began; ``note``
    a note the district recorded when it set the status, if any.
    """

    status: str
    district: District | None
    since: datetime.datetime | None = None
    changed: list[str] = field(default_factory=list)
    since_registration: bool = False
    set_by_district: bool = False
    note: str = ""

    @property
    def pending(self) -> bool:
        return self.status == Enterprise.Status.PENDING


def _label(name: str) -> str:
    return str(getattr(Enterprise._meta.get_field(name), "verbose_name", name))


def enterprise_verification(*, enterprise: Enterprise) -> Verification:
    """The enterprise's verification status, with what the district is checking.

    Reads the enterprise's audit events back to the one that began the
    current wait: its registration, a correction of verified data (each
    correction made while waiting adds its fields), or the district setting
    the status in the admin.
    """
    district_id = home_district_id(enterprise.uscc[2:8])
    state = Verification(
        status=enterprise.status,
        district=District.objects.filter(pk=district_id).first() if district_id else None,
    )
    if not state.pending:
        return state
    history = AuditEvent.objects.filter(
        object_type=object_type_of(Enterprise),
        object_id=str(enterprise.pk),
        event_type__in=[
            events.ENTERPRISE_REGISTERED,
            events.ENTERPRISE_CORRECTED,
            events.ADMIN_CHANGE,
        ],
    ).order_by("-id")
    changed: set[str] = set()
    for event in history.only("event_type", "occurred_at", "before", "after", "note"):
        before, after = event.before or {}, event.after or {}
        if event.event_type == events.ADMIN_CHANGE:
            if "status" not in after:
                continue  # an official's edit of other fields
            state.set_by_district = after["status"] == Enterprise.Status.PENDING
            state.note = event.note
        elif event.event_type == events.ENTERPRISE_REGISTERED:
            state.since_registration = True
        else:
            changed.update(name for name in after.get("changed", []) if name in VERIFIED_FIELDS)
            if before.get("status") == Enterprise.Status.PENDING:
                continue  # corrected while already waiting: look further back
        state.since = event.occurred_at
        break
    state.changed = [
        _label(name) for name in (f.name for f in Enterprise._meta.fields) if name in changed
    ]
    return state


__all__ = [
    "Preview",
    "PreviewRow",
    "Verification",
    "enterprise_verification",
    "evaluate",
    "rule_set_draft_of",
    "rule_set_get_for_evaluation",
    "rule_set_newer_published",
    "rule_set_preview",
    "rule_set_versions",
]
