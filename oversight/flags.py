"""Anomaly flag services: detect (idempotently), confirm and dismiss.

Every write here records its audit event in the same transaction. Deciding
a flag belongs to the program managers and reviewers of the flag's district;
auditors read flags but never decide them. A confirmed flag may suspend the
voucher or start a clawback, always through the voucher services (which
check their own permission: only a program manager may do either).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accounts.duties import duties_conflict
from audit.services import Actor, audit_event, audit_record, audit_record_all
from common.errors import BusinessError, Code
from vouchers.services import voucher_action_refusal, voucher_claw_back, voucher_suspend

from .detectors import Candidate, Period, Thresholds, detect_all
from .models import AnomalyFlag, may_decide_flag

ANOMALY_FLAGGED = "anomaly.flagged"
ANOMALY_CONFIRMED = "anomaly.confirmed"
ANOMALY_DISMISSED = "anomaly.dismissed"

Action = AnomalyFlag.Action

#: Voucher actions a confirmation may take, and the voucher service action they need.
VOUCHER_ACTIONS = {Action.SUSPEND: "suspend", Action.CLAWBACK: "clawback"}


@dataclass
class DetectionReport:
    """What a detection run found: the flags it created and what it left alone."""

    period: Period
    created: list[AnomalyFlag] = field(default_factory=list)
    already_flagged: int = 0


def _overlapping(candidate: Candidate) -> Q:
    return Q(
        detector=candidate.detector,
        district_id=candidate.district_id,
        subject=candidate.subject,
        period_start__lte=candidate.period.end,
        period_end__gte=candidate.period.start,
    )


def _flag_of(candidate: Candidate) -> AnomalyFlag:
    return AnomalyFlag(
        detector=candidate.detector,
        district_id=candidate.district_id,
        program_id=candidate.program_id,
        enterprise_id=candidate.enterprise_id,
        voucher_id=candidate.voucher_id,
        platform_id=candidate.platform_id,
        subject=candidate.subject,
        period_start=candidate.period.start,
        period_end=candidate.period.end,
        score=candidate.score,
        evidence=candidate.evidence,
    )


@transaction.atomic
def anomalies_detect(
    *, day: datetime.date | None = None, days: int = 1, actor: Actor
) -> DetectionReport:
    """Run every detector over the ``days`` days ending ``day`` (default
    yesterday, China time) and store new flags; return what was created.

    Idempotent: a candidate is skipped when a flag of the same detector,
    district and subject already covers an overlapping period (whatever its
    status), so a daily run, a re-run, or a pattern still visible in the
    next day's window never files the same finding twice. The unique
    constraint backs this up against concurrent runs.
    """
    if day is None:
        day = timezone.localdate() - datetime.timedelta(days=1)
    period = Period.ending(day, days)
    report = DetectionReport(period=period)
    for candidate in detect_all(period, Thresholds()):
        if AnomalyFlag.objects.filter(_overlapping(candidate)).exists():
            report.already_flagged += 1
            continue
        flag = _flag_of(candidate)
        try:
            with transaction.atomic():
                flag.save(force_insert=True)
        except IntegrityError:
            report.already_flagged += 1
            continue
        report.created.append(flag)
    audit_record_all(
        [
            audit_event(
                actor=actor,
                event_type=ANOMALY_FLAGGED,
                obj=flag,
                after={
                    "detector": flag.detector,
                    "subject": flag.subject,
                    "period": [flag.period_start.isoformat(), flag.period_end.isoformat()],
                    "score": str(flag.score),
                    "redemption_ids": flag.evidence.get("redemption_ids", []),
                },
                district_id=flag.district_id,
                enterprise_id=flag.enterprise_id,
                platform_id=flag.platform_id,
            )
            for flag in report.created
        ]
    )
    return report


# ---------------------------------------------------------------------------
# Deciding
# ---------------------------------------------------------------------------


def flag_decision_refusal(*, flag: AnomalyFlag, user: Any) -> str | None:
    """Why ``user`` may not decide ``flag`` now, or None when they may."""
    if flag.enterprise_id is not None:
        conflict = duties_conflict(user=user, enterprise_id=flag.enterprise_id)
        if conflict is not None:
            return conflict
    if not may_decide_flag(flag, user):
        return _("Only a program manager or reviewer of the flag's district may decide it.")
    if not can_proceed(flag.confirm, check_conditions=False):
        return _("This flag was already decided.")
    return None


def flag_actions_for(*, flag: AnomalyFlag, user: Any) -> list[str]:
    """The actions a confirmation by ``user`` may take on ``flag`` now."""
    actions = [Action.NONE.value]
    voucher = flag.voucher
    if voucher is None:
        return actions
    for action, voucher_action in VOUCHER_ACTIONS.items():
        if voucher_action_refusal(voucher=voucher, user=user, action=voucher_action) is None:
            actions.append(action.value)
    return actions


def _checked(*, flag: AnomalyFlag, actor: Actor, note: str) -> str:
    refusal = flag_decision_refusal(flag=flag, user=actor.user)
    if refusal is not None:
        if not may_decide_flag(flag, actor.user) or (
            flag.enterprise_id is not None
            and duties_conflict(user=actor.user, enterprise_id=flag.enterprise_id) is not None
        ):
            raise PermissionDenied(refusal)
        raise BusinessError(Code.VALIDATION_ERROR, refusal, None)
    note = (note or "").strip()
    if not note:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("Please give a note for the decision."), "note"
        )
    return note


def _locked(flag: AnomalyFlag) -> AnomalyFlag:
    return (
        AnomalyFlag.objects.select_for_update(of=("self",))
        .select_related("voucher")
        .get(pk=flag.pk)
    )


def _decision_event(flag: AnomalyFlag, *, actor: Actor, event_type: str, note: str) -> None:
    audit_record(
        actor=actor,
        event_type=event_type,
        obj=flag,
        before={"status": AnomalyFlag.Status.OPEN},
        after={"status": flag.status, "action_taken": flag.action_taken},
        district_id=flag.district_id,
        enterprise_id=flag.enterprise_id,
        platform_id=flag.platform_id,
        note=note,
    )


@transaction.atomic
def flag_confirm(
    *, actor: Actor, flag: AnomalyFlag, note: str, action: str = Action.NONE
) -> AnomalyFlag:
    """Confirm an open flag with a note; ``action`` "suspend" suspends its
    voucher and "clawback" claws it back, through the voucher services in
    this same transaction (so a refused voucher action leaves the flag open).
    """
    flag = _locked(flag)
    note = _checked(flag=flag, actor=actor, note=note)
    if action not in Action.values:
        raise BusinessError(Code.VALIDATION_ERROR, _("Unknown action."), "action")
    if action != Action.NONE:
        if flag.voucher is None:
            raise BusinessError(
                Code.VALIDATION_ERROR, _("This flag concerns no single voucher."), "action"
            )
        reason = _("Anomaly flag #%(id)s confirmed: %(note)s") % {"id": flag.pk, "note": note}
        if action == Action.SUSPEND:
            voucher_suspend(actor=actor, voucher=flag.voucher, reason=reason)
        else:
            voucher_claw_back(actor=actor, voucher=flag.voucher, reason=reason)
    flag.confirm(by=actor.user, at=timezone.now(), note=note, action=action)
    flag.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "action_taken"])
    _decision_event(flag, actor=actor, event_type=ANOMALY_CONFIRMED, note=note)
    return flag


@transaction.atomic
def flag_dismiss(*, actor: Actor, flag: AnomalyFlag, note: str) -> AnomalyFlag:
    """Dismiss an open flag with a note saying why it is not a fraud."""
    flag = _locked(flag)
    note = _checked(flag=flag, actor=actor, note=note)
    flag.dismiss(by=actor.user, at=timezone.now(), note=note)
    flag.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "action_taken"])
    _decision_event(flag, actor=actor, event_type=ANOMALY_DISMISSED, note=note)
    return flag
