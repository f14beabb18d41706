"""What every settlement service shares: refusals, the transition check, the
row lock, the audit event with the settlement's figures, and the totals
recounted from the lines."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, Sum
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from audit.services import Actor, audit_record
from common.errors import BusinessError, Code

from .models import ZERO, Settlement, SettlementLine


def _refuse(message: str, field: str | None = None, code: str = Code.VALIDATION_ERROR) -> Exception:
    return BusinessError(code, message, field)


def _check(bound_method: Any, actor: Actor, refusal: str) -> None:
    """Refuse unless the transition is possible now and the actor may perform it."""
    if not can_proceed(bound_method):
        raise _refuse(refusal, code=Code.SETTLEMENT_NOT_OPEN)
    if actor.user is None or not has_transition_perm(bound_method, actor.user):
        raise PermissionDenied(_("You may not do this."))


def _locked(settlement: Settlement | int) -> Settlement:
    pk = settlement if isinstance(settlement, int) else settlement.pk
    return (
        Settlement.objects.select_for_update(of=("self",))
        .select_related("program", "platform")
        .get(pk=pk)
    )


def _figures(settlement: Settlement) -> dict[str, Any]:
    return {
        "status": settlement.status,
        "period": settlement.period,
        "lines": settlement.line_count,
        "covered": str(settlement.covered),
        "reversed": str(settlement.reversed),
        "rejected": str(settlement.rejected),
        "amount_due": str(settlement.amount_due),
        "approved_amount": (
            str(settlement.approved_amount) if settlement.approved_amount is not None else None
        ),
        "paid_amount": str(settlement.paid_amount),
    }


def _audit(
    settlement: Settlement,
    actor: Actor,
    event_type: str,
    *,
    before: str | None = None,
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    audit_record(
        actor=actor,
        event_type=event_type,
        obj=settlement,
        district_id=settlement.program.district_id,
        platform_id=settlement.platform_id,
        before={"status": before} if before else None,
        after={**_figures(settlement), **(extra or {})},
        note=note,
    )


def _recount(settlement: Settlement) -> None:
    """Set the settlement's totals from its included lines (lock held)."""
    totals = SettlementLine.objects.filter(settlement=settlement).aggregate(
        in_covered=Sum("covered", filter=Q(status=SettlementLine.Status.INCLUDED)),
        in_reversed=Sum("reversed", filter=Q(status=SettlementLine.Status.INCLUDED)),
        out_covered=Sum("covered", filter=Q(status=SettlementLine.Status.REJECTED)),
    )
    settlement.covered = totals["in_covered"] or ZERO
    settlement.reversed = totals["in_reversed"] or ZERO
    settlement.rejected = totals["out_covered"] or ZERO
    settlement.amount_due = settlement.covered - settlement.reversed
    settlement.line_count = SettlementLine.objects.filter(settlement=settlement).count()
