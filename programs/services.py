"""Writes of programs: an official's edits, their lifecycle (open, pause,
resume, close) and the rule set version they adopt. Each is one transaction
that locks the row it changes and saves only the fields it changes, so the
budget counters that approvals and issuance keep (reserved, issued,
returned) are never written back as an earlier read saw them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from common.formatting import money
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

#: What only the program's own services change: the status (its transitions)
#: and the budget counters (approvals, issuance, returns). An edit never
#: writes them.
PROGRAM_MANAGED_FIELDS = frozenset(
    {
        "status",
        "reserved_amount",
        "issued_amount",
        "returned_amount",
        "paid_out_amount",
        "recovered_amount",
    }
)


#: What a voucher or an application was made under: fixed once either exists
#: (a CNY voucher must not become a points voucher, nor move district).
PROGRAM_FIXED_ONCE_USED = ("district", "kind", "unit", "payout_mode", "settlement_period")


def program_in_use(program: Program) -> bool:
    """True once anything was made under the program: a voucher, an
    application or a claim (reverse relations of the apps above; no import)."""
    return bool(
        program.vouchers.exists() or program.applications.exists() or program.claims.exists()
    )


def _editable_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` checked against the program's editable fields."""
    concrete = {f.name for f in Program._meta.concrete_fields if not f.primary_key}
    # The rules in force change only by an audited adoption (program_adopt_rule_set).
    refused = set(changes) & (PROGRAM_MANAGED_FIELDS | {"rule_set"})
    unknown = set(changes) - concrete
    if refused or unknown:
        raise TypeError(f"not an editable program field: {sorted(refused | unknown)}")
    return dict(changes)


def _require_program_manager(actor: Actor, *district_ids: int) -> None:
    """Refuse anyone but a program manager of each of ``district_ids`` (the
    program's own district: roles count only there); system tasks pass."""
    if actor.user is None and actor.kind == "system":
        return
    scope = scope_for(actor.user) if actor.user is not None else None
    if scope is None or not all(
        scope.has_district_role(district_id, Membership.Role.PROGRAM_MANAGER)
        for district_id in district_ids
    ):
        raise PermissionDenied(_("You may not do this."))


def program_lock(*, program: Program) -> None:
    """Lock the program's row until the caller's transaction ends.

    For a caller that reads the row's before-image (the admin's audit
    snapshot) before :func:`program_update` writes: nothing moves in between.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("program_lock holds the row only inside a transaction")
    # Ordered by pk, not the default ordering, which would join (and lock) more rows.
    Program.objects.select_for_update().filter(pk=program.pk).order_by("pk").values_list(
        "pk", flat=True
    ).first()


@transaction.atomic
def program_create(*, actor: Actor, program: Program) -> Program:
    """Store a new program an official filled in: a draft with nothing committed.

    The official's edit is recorded by the caller (the admin records the
    new row with its schedule and platforms in the same transaction).
    """
    if program.pk is not None:
        raise ValueError("program_create stores a new program; use program_update")
    if program.status != Program.Status.DRAFT or any(
        getattr(program, name) for name in PROGRAM_MANAGED_FIELDS - {"status"}
    ):
        raise ValueError("a new program starts as a draft with nothing committed")
    _require_program_manager(actor, program.district_id)
    program.save(force_insert=True)
    return program


@transaction.atomic
def program_update(*, actor: Actor, program: Program, changes: Mapping[str, Any]) -> Program:
    """Write the fields an official changed to the program, under a row lock.

    Only the fields in ``changes`` are saved: the counters an approval or an
    issuance moved meanwhile, and the status, stay as they are in the
    database (``program`` may have been read before they moved). The budget
    is checked against what is committed now, under the lock. The edit is
    recorded by the caller (the admin records the whole change, inline
    schedule and platforms included, in the same transaction).
    """
    values = _editable_changes(changes)
    locked = Program.objects.select_for_update().get(pk=program.pk)
    new_district = values.get("district")
    _require_program_manager(
        actor,
        locked.district_id,
        *([new_district.pk] if new_district is not None else []),
    )
    fixed = [
        name
        for name in PROGRAM_FIXED_ONCE_USED
        if name in values and getattr(locked, name) != values[name]
    ]
    if fixed and program_in_use(locked):
        raise _refuse(
            _("This cannot change once the program has applications or vouchers."), fixed[0]
        )
    total = values.get("total_budget")
    if total is not None and total < locked.committed_amount:
        raise _refuse(
            _("%(committed)s is already committed; the budget cannot be less.")
            % {"committed": money(locked.committed_amount)},
            "total_budget",
        )
    for name, value in values.items():
        setattr(locked, name, value)
        setattr(program, name, value)
    if values:
        locked.save(update_fields=sorted(values))
    # The caller's copy shows the counters as they are now, not as first read.
    for name in PROGRAM_MANAGED_FIELDS - {"status"}:
        setattr(program, name, getattr(locked, name))
    return locked


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
    _require_program_manager(actor, locked.district_id)
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
