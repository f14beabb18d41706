"""Writes of the eligibility app: enterprise registration and profile, and
rule sets — edited as drafts, published as versions that never change."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from accounts.duties import duties_conflict
from accounts.models import Enterprise, Membership
from accounts.scoping import scope_for
from accounts.uscc import normalize_uscc, uscc_problem
from audit import events
from audit.services import Actor, audit_record
from common.errors import BusinessError, Code

from .evaluator import check_definition
from .models import (
    ROW_FIELDS,
    RuleNode,
    RuleSet,
    definition_to_rows,
    row_problems,
    rows_to_definition,
)


def _already_registered() -> BusinessError:
    return BusinessError(
        Code.VALIDATION_ERROR,
        _(
            "An enterprise with this Unified Social Credit Code is already "
            "registered. Ask its administrator to add you as a member."
        ),
        field="uscc",
    )


def _refused(problems: list[str]) -> BusinessError:
    """One refusal that lists every problem (a page shows each on its own)."""
    return BusinessError(Code.VALIDATION_ERROR, "; ".join(problems), messages=problems)


@transaction.atomic
def enterprise_register(
    *,
    actor: Actor,
    user: Any,
    name: str,
    uscc: str,
    legal_representative: str,
    contact_name: str,
    contact_phone: str,
    contact_email: str = "",
    address: str = "",
    headcount: int,
    prior_year_revenue: Decimal,
    local_tax_paid: Decimal,
    industry: str,
    founded_on: datetime.date,
    is_one_person_company: bool = False,
) -> Enterprise:
    """Register an enterprise and make ``user`` its administrator.

    Raises BusinessError (on the ``uscc`` field) when the code is invalid
    or already registered: a USCC is unique across the whole system; and
    (without a field) when ``user`` is staff of a district, who may not be a
    member of an enterprise.
    """
    conflict = duties_conflict(user=user, becoming=Membership.Role.ENTERPRISE_ADMIN)
    if conflict is not None:
        raise BusinessError(Code.VALIDATION_ERROR, conflict)
    code = normalize_uscc(uscc)
    problem = uscc_problem(code)
    if problem:
        raise BusinessError(Code.VALIDATION_ERROR, problem, field="uscc")
    if Enterprise.objects.filter(uscc=code).exists():
        raise _already_registered()
    enterprise = Enterprise(
        name=name.strip(),
        uscc=code,
        legal_representative=legal_representative.strip(),
        contact_name=contact_name.strip(),
        contact_phone=contact_phone.strip(),
        contact_email=contact_email.strip(),
        address=address.strip(),
        headcount=headcount,
        prior_year_revenue=prior_year_revenue,
        local_tax_paid=local_tax_paid,
        industry=industry,
        founded_on=founded_on,
        is_one_person_company=is_one_person_company,
    )
    enterprise.full_clean(exclude=["division_code", "uscc"])
    try:
        # Two people registering the same code at once: the unique index
        # decides, and the loser gets the same clear answer.
        with transaction.atomic():
            enterprise.save()
    except IntegrityError as exc:
        raise _already_registered() from exc
    membership = Membership.objects.create(
        user=user, role=Membership.Role.ENTERPRISE_ADMIN, enterprise=enterprise
    )
    audit_record(
        actor=actor,
        event_type=events.ENTERPRISE_REGISTERED,
        obj=enterprise,
        enterprise_id=enterprise.pk,
        after={"name": enterprise.name, "uscc": enterprise.uscc},
    )
    audit_record(
        actor=actor,
        event_type=events.MEMBERSHIP_GRANTED,
        obj=membership,
        enterprise_id=enterprise.pk,
        after={"user": user.email, "role": membership.role},
    )
    return enterprise


# What an enterprise may change of its registration (the registration form's
# fields), and which of them the audit trail shows by value: contact details
# are personal data, recorded as "changed" only.
CORRECTABLE_FIELDS = (
    "name",
    "uscc",
    "legal_representative",
    "contact_name",
    "contact_phone",
    "contact_email",
    "address",
    "industry",
    "founded_on",
    "headcount",
    "prior_year_revenue",
    "local_tax_paid",
    "is_one_person_company",
)
PERSONAL_FIELDS = frozenset(
    {"legal_representative", "contact_name", "contact_phone", "contact_email"}
)
# Whom to call: no part of the business licence, of any eligibility fact or of
# the district's check, so changing them keeps the enterprise verified.
CONTACT_FIELDS = frozenset({"contact_name", "contact_phone", "contact_email"})
# What the district verifies against the business licence and the tax
# records: the identity (name, USCC — and with it the registration district
# —, legal representative, registered address) and every value an
# eligibility fact reads (eligibility/facts.py). A change sends the
# enterprise back to verification.
VERIFIED_FIELDS = tuple(name for name in CORRECTABLE_FIELDS if name not in CONTACT_FIELDS)


def _audit_value(value: Any) -> Any:
    return value if isinstance(value, bool | int | str) or value is None else str(value)


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    """Values as the audit trail keeps them: personal data only as "…"."""
    return {
        name: "…" if name in PERSONAL_FIELDS else _audit_value(value)
        for name, value in values.items()
    }


@transaction.atomic
def enterprise_registration_correct(
    *, actor: Actor, enterprise: Enterprise, **changes: Any
) -> Enterprise:
    """Change an enterprise's registration data; verified data goes back to verification.

    ``changes`` are fields of :data:`CORRECTABLE_FIELDS`. Nothing changed is
    no correction (the status stays). A change of contact details only
    (:data:`CONTACT_FIELDS`) keeps the status, and is allowed while
    suspended (the district must be able to reach the enterprise); a change
    of any of :data:`VERIFIED_FIELDS` sends the enterprise back to
    verification. Raises BusinessError with the reason when the enterprise is
    suspended, the code is invalid or belongs to another registered enterprise.
    """
    unknown = set(changes) - set(CORRECTABLE_FIELDS)
    if unknown:
        raise TypeError(f"not correctable: {sorted(unknown)}")
    locked = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
    if "uscc" in changes:
        code = normalize_uscc(changes["uscc"])
        problem = uscc_problem(code)
        if problem:
            raise BusinessError(Code.VALIDATION_ERROR, problem, field="uscc")
        if Enterprise.objects.filter(uscc=code).exclude(pk=locked.pk).exists():
            raise _already_registered()
        changes["uscc"] = code
    for name in ("name", "legal_representative", "contact_name", "contact_phone", "address"):
        if isinstance(changes.get(name), str):
            changes[name] = changes[name].strip()
    changed = {name: value for name, value in changes.items() if getattr(locked, name) != value}
    if not changed:
        return locked
    verified_change = not set(changed) <= CONTACT_FIELDS
    if verified_change and not can_proceed(locked.return_to_verification):
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _(
                "A suspended enterprise cannot change its registration data here; "
                "please contact the district that suspended it."
            ),
        )
    before = {name: getattr(locked, name) for name in changed}
    previous_status = locked.status
    for name, value in changed.items():
        setattr(locked, name, value)
    if verified_change:
        locked.return_to_verification()
    locked.full_clean(exclude=["division_code", "uscc"])
    update_fields = [*changed, "status"] if verified_change else list(changed)
    try:
        with transaction.atomic():
            locked.save(update_fields=update_fields)
    except IntegrityError as exc:  # a concurrent registration took the code
        raise _already_registered() from exc
    audit_record(
        actor=actor,
        event_type=(
            events.ENTERPRISE_CORRECTED if verified_change else events.ENTERPRISE_CONTACT_UPDATED
        ),
        obj=locked,
        enterprise_id=locked.pk,
        before={"status": previous_status, **_shown(before)},
        after={"status": locked.status, "changed": sorted(changed), **_shown(changed)},
    )
    # The division code is computed by the database from the USCC.
    locked.refresh_from_db(fields=["division_code"])
    return locked


# --- Rule sets ---------------------------------------------------------------
#
# A published version never changes: these services refuse to touch one, and
# an edit of a published version goes to a new draft version instead
# (:func:`rule_set_new_version`). Programs adopt a version explicitly
# (``vouchers.services_programs.program_adopt_rule_set``).

RULE_FIELDS = ("name", "name_en", "description", "description_en", "combinator")


def _is_system_task(actor: Actor) -> bool:
    """A management command or a scheduled task (no user): it acts for the district."""
    return actor.user is None and actor.kind == "system"


def _check_manager(actor: Actor, rule_set: RuleSet) -> None:
    """Refuse unless the actor is a program manager of the rule set's own district.

    A system task (a management command such as ``seed_demo``) acts for the
    district itself.
    """
    if _is_system_task(actor):
        return
    if actor.user is None or not scope_for(actor.user).has_district_role(
        rule_set.district_id, Membership.Role.PROGRAM_MANAGER
    ):
        raise PermissionDenied(
            _("Only a program manager of %(district)s may change its rule sets.")
            % {"district": rule_set.district}
        )


def _published_never_changes(rule_set: RuleSet) -> BusinessError:
    return BusinessError(
        Code.VALIDATION_ERROR,
        _(
            "%(rule_set)s is published and never changes. Edit it to make a new "
            "draft version, publish that, and adopt it in the programs that should use it."
        )
        % {"rule_set": rule_set.version_label},
    )


def _check_rows(combinator: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    """The rule tree of ``rows``; BusinessError listing every problem."""
    if not rows:
        raise BusinessError(Code.VALIDATION_ERROR, _("A rule set needs at least one row."))
    problems = [p for row_list in row_problems(rows).values() for p in row_list]
    if problems:
        raise _refused(problems)
    definition = rows_to_definition(combinator, rows)
    problems = check_definition(definition)
    if problems:
        raise _refused(problems)
    return definition


@transaction.atomic
def rule_set_import(*, actor: Actor, rule_set: RuleSet, definition: dict[str, Any]) -> RuleSet:
    """Replace a draft version's rows with those of a JSON rule tree.

    Raises BusinessError listing every problem when the tree is malformed
    (the rows are then left as they were), and when the version is
    published: import into a new version (:func:`rule_set_new_version`).
    """
    problems = check_definition(definition)
    if problems:
        raise _refused(problems)
    locked = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    _check_manager(actor, locked)
    if locked.is_published():
        raise _published_never_changes(locked)
    before = locked.definition()
    combinator, rows = definition_to_rows(definition)
    locked.nodes.all().delete()
    RuleNode.objects.bulk_create([RuleNode(rule_set=locked, **row) for row in rows])
    locked.combinator = combinator
    locked.save(update_fields=["combinator", "updated_at"])
    audit_record(
        actor=actor,
        event_type=events.RULE_SET_IMPORTED,
        obj=locked,
        district_id=locked.district_id,
        before=before,
        after=locked.definition(),
    )
    return locked


@transaction.atomic
def rule_set_new_version(
    *,
    actor: Actor,
    rule_set: RuleSet,
    changes: dict[str, Any] | None = None,
    rows: list[dict[str, str]] | None = None,
) -> RuleSet:
    """Make the next draft version of ``rule_set``'s lineage from ``rule_set``.

    The draft starts as a copy of ``rule_set`` (texts, top level and rows),
    with ``changes`` (any of name, name_en, description, description_en,
    combinator) and ``rows`` (dicts of path, kind, fact, operator, value)
    applied. ``rule_set`` itself is left as it was. Refused when the
    lineage already has a draft (edit that one) or the result is malformed.
    """
    source = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    _check_manager(actor, source)
    # Every version of the lineage, locked: two edits at once get two
    # numbers in turn, and the second finds the first's draft.
    versions = list(
        RuleSet.objects.select_for_update().filter(lineage=source.lineage).order_by("version")
    )
    draft = next((v for v in versions if v.status == RuleSet.Status.DRAFT), None)
    if draft is not None:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("%(draft)s is already being edited: change that draft, or delete it first.")
            % {"draft": draft.version_label},
        )
    unknown = set(changes or {}) - set(RULE_FIELDS)
    if unknown:
        raise ValueError(f"not a rule set field: {sorted(unknown)}")
    values = {name: getattr(source, name) for name in RULE_FIELDS} | dict(changes or {})
    if rows is None:
        rows = [node.as_row() for node in source.nodes.all()]
    rows = [{k: str(row.get(k, "") or "").strip() for k in ROW_FIELDS} for row in rows]
    definition = _check_rows(values["combinator"], rows)
    number = (max(v.version for v in versions) if versions else source.version) + 1
    if (
        RuleSet.objects.filter(district_id=source.district_id, name=values["name"], version=number)
        .exclude(lineage=source.lineage)
        .exists()
    ):
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("Another rule set of this district already has this name."),
            field="name",
        )
    new = RuleSet.objects.create(
        district_id=source.district_id,
        lineage=source.lineage,
        version=number,
        based_on=source,
        **values,
    )
    RuleNode.objects.bulk_create([RuleNode(rule_set=new, **row) for row in rows])
    audit_record(
        actor=actor,
        event_type=events.RULE_SET_VERSION_CREATED,
        obj=new,
        district_id=new.district_id,
        before={"version": source.version, "definition": source.definition()},
        after={"version": new.version, "definition": definition, **values},
    )
    return new


@transaction.atomic
def rule_set_record_created(*, actor: Actor, rule_set: RuleSet) -> None:
    """Record that a new rule set (its version 1, a draft) was made in the admin."""
    _check_manager(actor, rule_set)
    audit_record(
        actor=actor,
        event_type=events.RULE_SET_CREATED,
        obj=rule_set,
        district_id=rule_set.district_id,
        after={"version": rule_set.version, "definition": rule_set.definition()},
    )


@transaction.atomic
def rule_set_publish(*, actor: Actor, rule_set: RuleSet) -> RuleSet:
    """Publish a draft version so programs can adopt it; from then on it never changes.

    Refused when it is already published, malformed, or the actor is not a
    program manager of its district. No program changes: each adopts the
    new version explicitly.
    """
    locked = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    if not can_proceed(locked.publish):
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("%(rule_set)s is already published.") % {"rule_set": locked.version_label},
        )
    if not _is_system_task(actor) and (
        actor.user is None or not has_transition_perm(locked.publish, actor.user)
    ):
        raise PermissionDenied(
            _("Only a program manager of %(district)s may publish its rule sets.")
            % {"district": locked.district}
        )
    definition = locked.definition()
    problems = check_definition(definition)
    if problems:
        raise _refused(problems)
    locked.publish(by=actor.user, at=timezone.now())
    locked.save(update_fields=["status", "published_by", "published_at", "updated_at"])
    audit_record(
        actor=actor,
        event_type=events.RULE_SET_PUBLISHED,
        obj=locked,
        district_id=locked.district_id,
        after={"version": locked.version, "definition": definition},
    )
    return locked
