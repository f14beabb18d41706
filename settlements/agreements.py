"""Writes of performance agreements (目标责任书) and the receivables they raise:
opening an agreement with its obligations, giving it to an assessor,
recording the assessment, the decision and its clawback, repayments,
write-offs and the reminders of a receivable's due date.

Each service is one transaction that locks the row it changes, checks the
transition (or the actor's role in the program's own district) and records
an audit event. A clawback of a voucher still in use goes through the
voucher services, so the voucher's ledger and the program's budget see it.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from accounts.duties import duties_conflict
from accounts.models import Enterprise
from accounts.scoping import scope_for
from audit import events
from audit.services import Actor, audit_record
from common import formatting
from common.errors import BusinessError, Code
from programs.models import Program
from vouchers.models import Receivable, Voucher
from vouchers.services import voucher_claw_back, voucher_revoke
from vouchers.services.lifecycle import _net_covered

from .models import (
    Claim,
    Obligation,
    PerformanceAgreement,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")
SHARE_PLACES = Decimal("0.000001")
ZERO = Decimal("0")
# Obligation targets and measured values: DecimalField(max_digits=16, decimal_places=2).
MEASURE_LIMIT = Decimal("1e14")
Status = PerformanceAgreement.Status


def _refuse(message: str, field: str | None = None) -> BusinessError:
    return BusinessError(Code.VALIDATION_ERROR, message, field)


def shanghai_today() -> datetime.date:
    """Today's date in China Standard Time, whatever the active time zone."""
    return timezone.localdate(timezone.now(), SHANGHAI)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus calendar months, on the month's last day when it is shorter
    (31 January + 1 month = 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _check(bound_method: Any, actor: Actor, refusal: str) -> None:
    """Refuse unless the transition is possible now and the actor may perform it."""
    if not can_proceed(bound_method):
        raise _refuse(refusal, "status")
    if actor.user is None or not has_transition_perm(bound_method, actor.user):
        raise PermissionDenied(_("You may not do this."))


def _no_conflict(actor: Actor, enterprise_id: int) -> None:
    conflict = duties_conflict(user=actor.user, enterprise_id=enterprise_id)
    if conflict is not None:
        raise PermissionDenied(conflict)


def _text(value: Any, field: str, *, limit: int, missing: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise _refuse(missing, field)
    if len(text) > limit:
        raise _refuse(_("At most %(limit)s characters.") % {"limit": limit}, field)
    return text


def _measure(value: Any, field: str, *, positive: bool) -> Decimal:
    """A target (positive) or a measured value (not negative): a decimal
    number with at most two places. Targets come from the program's JSON and
    may be strings or numbers; measured values are Decimal or int."""
    # Money and measures are never floats, but JSON's numbers arrive as floats.
    accepted = (Decimal, int, str, float) if positive else (Decimal, int)
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise _refuse(_("Give a decimal number."), field)
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise _refuse(_("Give a decimal number."), field) from None
    if not number.is_finite() or number >= MEASURE_LIMIT:
        raise _refuse(_("Give a decimal number."), field)
    if number < 0 or (positive and number == 0):
        raise _refuse(
            _("A target must be greater than zero.")
            if positive
            else _("A measured value cannot be negative."),
            field,
        )
    if number != number.quantize(CENT):
        raise _refuse(_("At most 2 decimal places."), field)
    return number.quantize(CENT)


def _targets_of(program: Program) -> list[tuple[str, Decimal]]:
    """The program's agreement targets as (kind, target), checked."""
    field = "agreement_targets"
    targets = program.agreement_targets
    if not isinstance(targets, list) or not targets:
        raise _refuse(
            _("The program requires a performance agreement but names no targets."), field
        )
    kinds = set(Obligation.Kind.values)
    checked: list[tuple[str, Decimal]] = []
    for entry in targets:
        kind = entry.get("kind") if isinstance(entry, dict) else None
        if kind not in kinds:
            raise _refuse(
                _("Unknown kind of obligation %(kind)s: use one of %(kinds)s.")
                % {"kind": repr(kind), "kinds": ", ".join(sorted(kinds))},
                field,
            )
        if any(kind == seen for seen, _target in checked):
            raise _refuse(_("The obligation %(kind)s is named twice.") % {"kind": kind}, field)
        checked.append((kind, _measure(entry.get("target"), field, positive=True)))
    return checked


def _locked(agreement: PerformanceAgreement) -> PerformanceAgreement:
    return (
        PerformanceAgreement.objects.select_for_update(of=("self",))
        .select_related("program", "enterprise", "voucher")
        .get(pk=agreement.pk)
    )


def _audit(
    obj: Any,
    actor: Actor,
    event_type: str,
    *,
    program: Program,
    enterprise_id: int,
    before: str | None = None,
    after: dict[str, Any],
    note: str = "",
) -> None:
    audit_record(
        actor=actor,
        event_type=event_type,
        obj=obj,
        district_id=program.district_id,
        enterprise_id=enterprise_id,
        before={"status": before} if before else None,
        after=after,
        note=note,
    )


# --- The agreement ---------------------------------------------------------


@transaction.atomic
def agreement_open(
    *,
    actor: Actor,
    program: Program,
    enterprise: Enterprise,
    subsidy: Decimal,
    claim: Claim | None = None,
    voucher: Voucher | None = None,
    starts_on: datetime.date,
) -> PerformanceAgreement | None:
    """Open the agreement that comes with an approved claim or contract
    voucher, when the program requires one (None when it does not).

    Its obligations are the program's targets; it is assessed the program's
    term in calendar months after ``starts_on``."""
    if not program.requires_agreement:
        return None
    targets = _targets_of(program)
    if (
        not isinstance(subsidy, Decimal)
        or not subsidy.is_finite()
        or subsidy <= 0
        or subsidy != subsidy.quantize(CENT)
    ):
        raise _refuse(_("The subsidy is an amount greater than zero, to the fen."), "subsidy")
    if not isinstance(starts_on, datetime.date) or isinstance(starts_on, datetime.datetime):
        raise _refuse(_("Give the date the agreement is in force from."), "starts_on")
    for field, source in (("claim", claim), ("voucher", voucher)):
        if source is None:
            continue
        if source.program_id != program.pk or source.enterprise_id != enterprise.pk:
            raise _refuse(_("This is not the enterprise's, under this program."), field)
        if PerformanceAgreement.objects.filter(**{field: source}).exists():
            raise _refuse(_("An agreement already comes with this."), field)
    agreement = PerformanceAgreement.objects.create(
        program=program,
        enterprise=enterprise,
        claim=claim,
        voucher=voucher,
        subsidy=subsidy,
        starts_on=starts_on,
        assess_on=add_months(starts_on, program.agreement_term_months),
    )
    Obligation.objects.bulk_create(
        Obligation(agreement=agreement, kind=kind, target=target) for kind, target in targets
    )
    _audit(
        agreement,
        actor,
        events.AGREEMENT_CREATED,
        program=program,
        enterprise_id=enterprise.pk,
        after={
            "status": agreement.status,
            "subsidy": str(subsidy),
            "starts_on": starts_on.isoformat(),
            "assess_on": agreement.assess_on.isoformat(),
            "claim": claim.pk if claim is not None else None,
            "voucher": voucher.code if voucher is not None else None,
            "obligations": [{"kind": kind, "target": str(target)} for kind, target in targets],
        },
    )
    return agreement


@transaction.atomic
def agreement_assign(
    *, actor: Actor, agreement: PerformanceAgreement, assessor: Any
) -> PerformanceAgreement:
    """A program manager of the district gives an agreement whose assessment
    date has come to an assessor the district engaged."""
    agreement = _locked(agreement)
    _check(agreement.assign, actor, _("Only an agreement in force can be given to an assessor."))
    _no_conflict(actor, agreement.enterprise_id)
    if agreement.assess_on > shanghai_today():
        raise _refuse(
            _("This agreement is assessed from %(date)s.")
            % {"date": formatting.date(agreement.assess_on)},
            "status",
        )
    district_id = agreement.program.district_id
    if (
        assessor is None
        or not getattr(assessor, "is_active", False)
        or district_id not in scope_for(assessor).assessor_district_ids
    ):
        raise _refuse(_("Choose an assessor engaged by the program's district."), "assessor")
    if assessor.pk == actor.user.pk:
        raise _refuse(_("You may not assess an agreement you assign."), "assessor")
    if agreement.enterprise_id in scope_for(assessor).enterprise_ids:
        raise _refuse(_("The assessor is a member of the enterprise."), "assessor")
    before = agreement.status
    agreement.assign(assessor=assessor, by=actor.user)
    agreement.save(update_fields=["status", "assessor", "assigned_by"])
    _audit(
        agreement,
        actor,
        events.AGREEMENT_ASSIGNED,
        program=agreement.program,
        enterprise_id=agreement.enterprise_id,
        before=before,
        after={"status": agreement.status, "assessor": assessor.pk},
    )
    return agreement


@transaction.atomic
def agreement_record_assessment(
    *,
    actor: Actor,
    agreement: PerformanceAgreement,
    measured: Mapping[str, Decimal],
    report: str,
) -> PerformanceAgreement:
    """The assigned assessor records the measured value of every obligation
    and their report. The agreement's shortfall is the mean of its
    obligations' shortfalls (each the share of its target not reached)."""
    agreement = _locked(agreement)
    _check(
        agreement.record_assessment,
        actor,
        _("Only an agreement with its assessor can be assessed."),
    )
    report = _text(report, "report", limit=20000, missing=_("Give the assessor's report."))
    obligations = list(agreement.obligations.select_for_update().order_by("id"))
    if not isinstance(measured, Mapping):
        raise _refuse(_("Give the measured value of every obligation."), "measured")
    unknown = sorted(set(measured) - {o.kind for o in obligations})
    if unknown:
        raise _refuse(
            _("This agreement has no obligation %(kind)s.")
            % {"kind": ", ".join(map(str, unknown))},
            "measured",
        )
    for obligation in obligations:
        if obligation.kind not in measured:
            raise _refuse(
                _("Give the measured value of %(kind)s.") % {"kind": obligation.get_kind_display()},
                "measured",
            )
        obligation.measured = _measure(measured[obligation.kind], "measured", positive=False)
    Obligation.objects.bulk_update(obligations, ["measured"])
    shares = [o.shortfall or ZERO for o in obligations]
    shortfall = (sum(shares, ZERO) / len(shares)).quantize(SHARE_PLACES, rounding=ROUND_HALF_UP)
    before = agreement.status
    agreement.record_assessment(report=report, at=timezone.now(), shortfall=shortfall)
    agreement.save(update_fields=["status", "report", "assessed_at", "shortfall"])
    _audit(
        agreement,
        actor,
        events.AGREEMENT_ASSESSED,
        program=agreement.program,
        enterprise_id=agreement.enterprise_id,
        before=before,
        after={
            "status": agreement.status,
            "shortfall": str(shortfall),
            "measured": {o.kind: str(o.measured) for o in obligations},
        },
    )
    return agreement


def clawback_of(
    agreement: PerformanceAgreement, obligations: list[Obligation]
) -> tuple[str, Decimal]:
    """The outcome of an assessed agreement and the clawback it calls for.

    Met when nothing fell short; partly met when every obligation reached
    something and the program claws back in proportion; else missed. The
    proportional rule claws back subsidy × shortfall, the whole rule the
    whole subsidy, to the fen (half up); nothing when met."""
    shortfall = agreement.shortfall or ZERO
    if shortfall == 0:
        return Status.MET, ZERO
    proportional = agreement.program.clawback_rule == Program.ClawbackRule.PROPORTIONAL
    reached_all = all((o.measured or ZERO) > 0 for o in obligations)
    outcome = Status.PARTLY_MET if proportional and reached_all else Status.MISSED
    amount = agreement.subsidy * shortfall if proportional else agreement.subsidy
    return outcome, amount.quantize(CENT, rounding=ROUND_HALF_UP)


@transaction.atomic
def agreement_decide(
    *, actor: Actor, agreement: PerformanceAgreement, note: str = ""
) -> PerformanceAgreement:
    """A program manager other than the one who assigned the assessment
    decides the outcome; a shortfall raises the clawback receivable.

    A voucher still in use is clawed back through the voucher services (at
    most what it covered; it ends and its remainder returns to the budget);
    otherwise a receivable is raised against the enterprise. Either way it
    is due the program's number of days from today (Shanghai)."""
    agreement = _locked(agreement)
    _check(agreement.decide, actor, _("Only an assessed agreement can be decided."))
    _no_conflict(actor, agreement.enterprise_id)
    note = note.strip() if isinstance(note, str) else ""
    if len(note) > 2000:
        raise _refuse(_("At most %(limit)s characters.") % {"limit": 2000}, "note")
    program = agreement.program
    outcome, clawback = clawback_of(agreement, list(agreement.obligations.all()))
    before = agreement.status
    agreement.decide(outcome=outcome, by=actor.user, at=timezone.now())
    receivable = None
    if clawback > 0:
        due_on = shanghai_today() + datetime.timedelta(days=program.clawback_due_days)
        reason = _("Performance agreement %(id)s: targets not met (shortfall %(shortfall)s).") % {
            "id": agreement.pk,
            "shortfall": agreement.shortfall,
        }
        if note:
            reason = f"{reason} {note}"
        receivable = _raise_clawback(agreement, actor, clawback, reason, due_on)
        agreement.receivable = receivable
    agreement.save(update_fields=["status", "decided_by", "decided_at", "receivable"])
    _audit(
        agreement,
        actor,
        events.AGREEMENT_DECIDED,
        program=program,
        enterprise_id=agreement.enterprise_id,
        before=before,
        after={
            "status": agreement.status,
            "outcome": outcome,
            "shortfall": str(agreement.shortfall),
            "clawback": str(clawback),
            "amount": str(receivable.amount) if receivable is not None else "0",
            "receivable": receivable.pk if receivable is not None else None,
        },
        note=note,
    )
    return agreement


def _raise_clawback(
    agreement: PerformanceAgreement,
    actor: Actor,
    clawback: Decimal,
    reason: str,
    due_on: datetime.date,
) -> Receivable | None:
    """The receivable of a clawback (None when a voucher in use covered nothing:
    it is revoked, its whole balance back to the budget, and nothing is owed)."""
    voucher = agreement.voucher
    program = agreement.program
    if voucher is not None and voucher.status in (Voucher.Status.ACTIVE, Voucher.Status.SUSPENDED):
        covered = _net_covered(voucher)
        if covered <= 0:
            voucher_revoke(actor=actor, voucher=voucher, reason=reason)
            return None
        receivable = voucher_claw_back(
            actor=actor, voucher=voucher, reason=reason, amount=min(clawback, covered)
        )
        receivable.due_on = due_on
        receivable.save(update_fields=["due_on"])
        return receivable
    receivable = Receivable.objects.create(
        voucher=None,
        enterprise_id=agreement.enterprise_id,
        program=program,
        amount=clawback,
        unit=Program.Unit.CNY,
        reason=reason,
        due_on=due_on,
        created_by=actor.label[:200],
    )
    _audit(
        receivable,
        actor,
        events.RECEIVABLE_CREATED,
        program=program,
        enterprise_id=agreement.enterprise_id,
        after={
            "agreement": agreement.pk,
            "amount": str(clawback),
            "unit": receivable.unit,
            "due_on": due_on.isoformat(),
        },
        note=reason,
    )
    return receivable


def agreements_due(*, today: datetime.date | None = None) -> QuerySet[PerformanceAgreement]:
    """Agreements in force whose assessment date has come (Shanghai), oldest first."""
    today = today or shanghai_today()
    return (
        PerformanceAgreement.objects.filter(status=Status.ACTIVE, assess_on__lte=today)
        .select_related("program__district", "enterprise")
        .prefetch_related("obligations")
        .order_by("assess_on", "id")
    )
