"""Reads of applications and of programs as an enterprise sees them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from accounts.duties import duties_conflict
from accounts.models import Enterprise
from common.formatting import amount
from eligibility.duplicates import (
    Flag,
    FundedElsewhere,
    funded_elsewhere_flags,
    locality_flags,
    shared_contact_flags,
)
from eligibility.evaluator import Decision, evaluate
from eligibility.facts import Context
from programs.models import Program
from programs.selectors import (
    program_is_accepting,
    program_list_public,
    program_not_accepting_reason,
)
from vouchers.selectors import vouchers_funded_in_year

from .models import Application


def program_eligibility(*, program: Program, enterprise: Enterprise) -> Decision:
    """The decision of the program's rule set for ``enterprise``, today."""
    context = Context(
        on=timezone.localdate(),
        program_kind=program.kind,
        program_district_id=program.district_id,
        program_id=program.pk,
    )
    return evaluate(program.rule_set, enterprise, context=context)


def program_list_for_enterprise(*, enterprise: Enterprise | None) -> list[dict[str, Any]]:
    """Open programs with, for each, the enterprise's decision and live application
    (without an enterprise, as anyone sees them: no decision, no application)."""
    programs = program_list_public().select_related("rule_set").prefetch_related("rule_set__nodes")
    if enterprise is None:
        return [
            {
                "program": program,
                "decision": None,
                "accepting": program_is_accepting(program),
                "application": None,
            }
            for program in programs
        ]
    live = {
        a.program_id: a
        for a in Application.objects.filter(enterprise=enterprise, status__in=Application.LIVE)
    }
    return [
        {
            "program": program,
            "decision": program_eligibility(program=program, enterprise=enterprise),
            "accepting": program_is_accepting(program),
            "application": live.get(program.pk),
        }
        for program in programs
    ]


@dataclass(frozen=True)
class ApplyState:
    """Where an enterprise stands with one program: its decision row by row,
    its live application, and why it may not apply now (empty: it may)."""

    decision: Decision
    application: Application | None
    refusal: str

    @property
    def may_apply(self) -> bool:
        return self.application is None and not self.refusal


def program_apply_state(*, program: Program, enterprise: Enterprise, user: Any) -> ApplyState:
    """Whether ``enterprise`` (acted for by ``user``) may apply to ``program``
    today, with the reason when not: the checks of the apply page, in its order."""
    decision = program_eligibility(program=program, enterprise=enterprise)
    application = Application.objects.filter(
        enterprise=enterprise, program=program, status__in=Application.LIVE
    ).first()
    refusal = ""
    if application is None:
        refusal = program_not_accepting_reason(program)
        if not refusal and not decision.eligible:
            refusal = gettext("You can apply once every condition marked ✘ is met.")
        if not refusal:
            refusal = duties_conflict(user=user, enterprise_id=enterprise.pk) or ""
    return ApplyState(decision=decision, application=application, refusal=refusal)


def application_list_for_enterprise(*, enterprise: Enterprise) -> QuerySet[Application]:
    return (
        Application.objects.filter(enterprise=enterprise)
        .select_related("program__district")
        .order_by("-updated_at")
    )


def application_get_with_history(*, queryset: QuerySet[Application], pk: int) -> Application:
    return (
        queryset.select_related("program__district", "enterprise", "first_approved_by")
        .prefetch_related("documents", "events__actor")
        .get(pk=pk)
    )


def application_duplicate_flags(*, application: Application) -> list[Flag]:
    """The duplicate checks for an application, for its reviewer."""
    program = application.program
    enterprise = application.enterprise
    others = (
        Enterprise.objects.filter(
            applications__program=program,
            applications__status__in=[s for s in Application.LIVE if s != Application.Status.DRAFT],
        )
        .exclude(pk=enterprise.pk)
        .distinct()
    )
    year = (
        (application.submitted_at or timezone.now())
        .astimezone(timezone.get_current_timezone())
        .year
    )
    grants = [
        FundedElsewhere(
            district_name=v.program.district.display_name,
            program_name=v.program.display_name,
            amount=amount(v.face_value, v.unit),
        )
        for v in vouchers_funded_in_year(enterprise=enterprise, year=year, kind=program.kind)
        .exclude(program__district=program.district)
        .select_related("program__district")
    ]
    return [
        *funded_elsewhere_flags(grants),
        *shared_contact_flags(enterprise, others),
        *locality_flags(enterprise, program.district, nationwide=program.cross_region),
    ]
