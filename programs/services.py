"""Writes of programs: their lifecycle (open, pause, resume, close) and the
rule set version they adopt. Each is one transaction that locks the row it
changes, checks the transition's permission for the acting user and records
an audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from accounts.models import Membership
from accounts.scoping import scope_for
from audit import events
from audit.services import Actor, audit_record
from common.errors import BusinessError, Code
from eligibility.models import RuleSet

from .models import Program
from .phasedown import schedule_problems, steps_of


def _refuse(message: str, field: str | None = None) -> BusinessError:
    return BusinessError(Code.VALIDATION_ERROR, message, field)


def _check_transition(bound_method: Callable[..., Any], actor: Actor, refusal: str) -> None:
    """Refuse unless the transition is possible now and the actor may perform it."""
    if not can_proceed(bound_method):
        raise _refuse(refusal)
    if actor.user is None or not has_transition_perm(bound_method, actor.user):
        raise PermissionDenied(_("You may not do this."))


# --- Programs -------------------------------------------------------------


def _program_move(
    *, actor: Actor, program: Program, transition: str, event_type: str, refusal: str
) -> Program:
    locked = Program.objects.select_for_update().get(pk=program.pk)
    before = locked.status
    method = getattr(locked, transition)
    _check_transition(method, actor, refusal)
    method()
    locked.save(update_fields=["status"])
    audit_record(
        actor=actor,
        event_type=event_type,
        obj=locked,
        district_id=locked.district_id,
        before={"status": before},
        after={"status": locked.status},
    )
    return locked


@transaction.atomic
def program_open(*, actor: Actor, program: Program) -> Program:
    """Open a draft program for applications; refused without a valid schedule
    ending in an exit date."""
    locked = Program.objects.select_for_update().get(pk=program.pk)
    problems = schedule_problems(locked.base_rate, steps_of(locked))
    if problems:
        raise _refuse(
            _("The program cannot be opened: %(problems)s") % {"problems": " ".join(problems)},
            field="phase_steps",
        )
    return _program_move(
        actor=actor,
        program=locked,
        transition="open",
        event_type=events.PROGRAM_OPENED,
        refusal=_("Only a draft program can be opened."),
    )


@transaction.atomic
def program_pause(*, actor: Actor, program: Program) -> Program:
    """Stop taking applications for a while."""
    return _program_move(
        actor=actor,
        program=program,
        transition="pause",
        event_type=events.PROGRAM_PAUSED,
        refusal=_("Only an open program can be paused."),
    )


@transaction.atomic
def program_resume(*, actor: Actor, program: Program) -> Program:
    """Take applications again after a pause."""
    return _program_move(
        actor=actor,
        program=program,
        transition="resume",
        event_type=events.PROGRAM_RESUMED,
        refusal=_("Only a paused program can be resumed."),
    )


@transaction.atomic
def program_close(*, actor: Actor, program: Program) -> Program:
    """Close the program for good."""
    return _program_move(
        actor=actor,
        program=program,
        transition="close",
        event_type=events.PROGRAM_CLOSED,
        refusal=_("Only an open or paused program can be closed."),
    )


@transaction.atomic
def program_adopt_rule_set(*, actor: Actor, program: Program, rule_set: RuleSet | None) -> Program:
    """Make ``rule_set`` (a published version) the eligibility rules in force in ``program``.

    Only a program manager of the program's district adopts, and only a
    published version of one of that district's own rule sets (``None``:
    every registered enterprise may apply). Applications already submitted
    keep the version they were decided under.
    """
    locked = Program.objects.select_for_update().get(pk=program.pk)
    system_task = actor.user is None and actor.kind == "system"
    if not system_task and (
        actor.user is None
        or not scope_for(actor.user).has_district_role(
            locked.district_id, Membership.Role.PROGRAM_MANAGER
        )
    ):
        raise PermissionDenied(_("You may not do this."))
    if locked.status == Program.Status.CLOSED:
        raise _refuse(_("A closed program keeps the rules it closed with."), "rule_set")
    if rule_set is not None:
        rule_set = RuleSet.objects.get(pk=rule_set.pk)
        if rule_set.district_id != locked.district_id:
            raise _refuse(_("A program applies only its own district's rule sets."), "rule_set")
        if not rule_set.is_published():
            raise _refuse(
                _("%(rule_set)s is a draft: publish it before a program adopts it.")
                % {"rule_set": rule_set.version_label},
                "rule_set",
            )
    before = locked.rule_set
    if (before.pk if before else None) == (rule_set.pk if rule_set else None):
        raise _refuse(_("The program already applies these rules."), "rule_set")
    locked.rule_set = rule_set
    locked.save(update_fields=["rule_set"])

    def described(version: RuleSet | None) -> dict[str, Any] | None:
        if version is None:
            return None
        return {"rule_set": version.pk, "name": version.name, "version": version.version}

    audit_record(
        actor=actor,
        event_type=events.PROGRAM_RULE_SET_ADOPTED,
        obj=locked,
        district_id=locked.district_id,
        before=described(before),
        after=described(rule_set),
    )
    return locked
