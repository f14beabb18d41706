"""Writes of the eligibility app: enterprise registration and profile."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accounts.duties import duties_conflict
from accounts.models import Enterprise, Membership
from accounts.uscc import normalize_uscc, uscc_problem
from audit import events
from audit.services import Actor, audit_record


def _already_registered() -> ValidationError:
    return ValidationError(
        {
            "uscc": _(
                "An enterprise with this Unified Social Credit Code is already "
                "registered. Ask its administrator to add you as a member."
            )
        }
    )


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

    Raises ValidationError (on the ``uscc`` field) when the code is invalid
    or already registered: a USCC is unique across the whole system; and
    (without a field) when ``user`` is staff of a district, who may not be a
    member of an enterprise.
    """
    conflict = duties_conflict(user=user, becoming=Membership.Role.ENTERPRISE_ADMIN)
    if conflict is not None:
        raise ValidationError({NON_FIELD_ERRORS: conflict})
    code = normalize_uscc(uscc)
    problem = uscc_problem(code)
    if problem:
        raise ValidationError({"uscc": problem})
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


# What an enterprise may correct of its registration (the registration form's
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


def _audit_value(value: Any) -> Any:
    return value if isinstance(value, bool | int | str) or value is None else str(value)


@transaction.atomic
def enterprise_registration_correct(
    *, actor: Actor, enterprise: Enterprise, **changes: Any
) -> Enterprise:
    """Correct an enterprise's registration data; it goes back to verification.

    ``changes`` are fields of :data:`CORRECTABLE_FIELDS`. Nothing changed is
    no correction (the status stays). Raises ValidationError with the reason
    when the enterprise is suspended, the code is invalid or belongs to
    another registered enterprise.
    """
    unknown = set(changes) - set(CORRECTABLE_FIELDS)
    if unknown:
        raise TypeError(f"not correctable: {sorted(unknown)}")
    locked = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
    if "uscc" in changes:
        code = normalize_uscc(changes["uscc"])
        problem = uscc_problem(code)
        if problem:
            raise ValidationError({"uscc": problem})
        if Enterprise.objects.filter(uscc=code).exclude(pk=locked.pk).exists():
            raise _already_registered()
        changes["uscc"] = code
    for name in ("name", "legal_representative", "contact_name", "contact_phone"):
        if isinstance(changes.get(name), str):
            changes[name] = changes[name].strip()
    changed = {name: value for name, value in changes.items() if getattr(locked, name) != value}
    if not changed:
        return locked
    if not can_proceed(locked.return_to_verification):
        raise ValidationError(
            _(
                "A suspended enterprise cannot change its registration data here; "
                "please contact the district that suspended it."
            )
        )
    before = {name: getattr(locked, name) for name in changed}
    previous_status = locked.status
    for name, value in changed.items():
        setattr(locked, name, value)
    locked.return_to_verification()
    locked.full_clean(exclude=["division_code", "uscc"])
    try:
        with transaction.atomic():
            locked.save(update_fields=[*changed, "status"])
    except IntegrityError as exc:  # a concurrent registration took the code
        raise _already_registered() from exc
    audit_record(
        actor=actor,
        event_type=events.ENTERPRISE_CORRECTED,
        obj=locked,
        enterprise_id=locked.pk,
        before={
            "status": previous_status,
            **{
                name: "…" if name in PERSONAL_FIELDS else _audit_value(value)
                for name, value in before.items()
            },
        },
        after={
            "status": locked.status,
            "changed": sorted(changed),
            **{
                name: "…" if name in PERSONAL_FIELDS else _audit_value(value)
                for name, value in changed.items()
            },
        },
    )
    # The division code is computed by the database from the USCC.
    locked.refresh_from_db(fields=["division_code"])
    return locked


@transaction.atomic
def rule_set_import(*, actor: Actor, rule_set: Any, definition: dict[str, Any]) -> Any:
    """Replace a rule set's rows with those of a JSON rule tree.

    Raises ValidationError listing every problem when the tree is malformed;
    the rows are then left as they were.
    """
    from .evaluator import check_definition
    from .models import RuleNode, RuleSet, definition_to_rows

    problems = check_definition(definition)
    if problems:
        raise ValidationError(problems)
    locked = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
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
def rule_set_publish(*, actor: Actor, rule_set: Any) -> Any:
    """Publish a rule set so programs can use it; refused when it is malformed."""
    from .evaluator import check_definition
    from .models import RuleSet

    locked = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    definition = locked.definition()
    problems = check_definition(definition)
    if problems:
        raise ValidationError(problems)
    locked.status = RuleSet.Status.PUBLISHED
    locked.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        event_type=events.RULE_SET_PUBLISHED,
        obj=locked,
        district_id=locked.district_id,
        after=definition,
    )
    return locked
