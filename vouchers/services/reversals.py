"""Reversals: a platform refunds all or part of a charge onto its voucher
(never more than was covered and not yet reversed). On a voucher that has
ended, what comes back goes on to the program's budget."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import ComputePlatform
from audit import events
from audit.services import Actor
from common.errors import BusinessError, Code
from vouchers import queries
from vouchers.models import LedgerEntry, Redemption, Reversal, Voucher
from vouchers.services.inputs import (
    checked_amount,
    checked_reference,
    fingerprint_of,
    is_reference_clash,
)
from vouchers.services.ledger_writes import (
    audit_transition,
    locked_voucher,
    record_change,
    return_remainder,
    save_voucher,
    settle_status,
)
from vouchers.services.responses import ReversalResult, format_amount


def redemption_reverse(
    *,
    actor: Actor,
    platform: ComputePlatform,
    redemption_id: int,
    amount: Decimal,
    reference: str,
    reason: str = "",
    request_evidence: dict[str, Any] | None = None,
) -> ReversalResult:
    """Refund all or part of a charge onto its voucher (never more than covered)."""
    reference = checked_reference(reference)
    checked = checked_amount(amount, unit=None, field_name="amount")
    if not isinstance(reason, str) or len(reason) > 2000:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("The reason is text of at most 2000 characters."), "reason"
        )
    fingerprint = fingerprint_of(redemption=redemption_id, amount=checked, reason=reason)
    try:
        return _reverse(
            actor=actor,
            platform=platform,
            redemption_id=redemption_id,
            amount=checked,
            reference=reference,
            reason=reason,
            evidence=request_evidence,
            fingerprint=fingerprint,
        )
    except IntegrityError as exc:
        if not is_reference_clash(exc):
            raise
        replay = _reversal_replay(platform=platform, reference=reference, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay


def _reversal_replay(
    *, platform: ComputePlatform, reference: str, fingerprint: str
) -> ReversalResult | None:
    existing = queries.REVERSAL_BY_REFERENCE.one(platform_id=platform.pk, reference=reference)
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise BusinessError(
            Code.REFERENCE_CONFLICT,
            _("This reference was already used for a different reversal."),
            "reference",
        )
    return ReversalResult(
        id=existing.pk,
        redemption=existing.redemption_id,
        amount=existing.amount,
        unit=existing.redemption.voucher.unit,
        balance_after=existing.balance_after,
        replayed=True,
        created_at=existing.created_at,
        reversal=existing,
    )


@transaction.atomic
def _reverse(
    *,
    actor: Actor,
    platform: ComputePlatform,
    redemption_id: Any,
    amount: Decimal,
    reference: str,
    reason: str,
    evidence: dict[str, Any] | None,
    fingerprint: str,
) -> ReversalResult:
    replay = _reversal_replay(platform=platform, reference=reference, fingerprint=fingerprint)
    if replay is not None:
        return replay
    not_found = BusinessError(Code.REDEMPTION_NOT_FOUND, _("No such redemption."), "redemption")
    if isinstance(redemption_id, bool) or not isinstance(redemption_id, int):
        raise not_found
    voucher_id = queries.voucher_id_of_redemption(
        redemption_id=redemption_id, platform_id=platform.pk
    )
    if voucher_id is None:
        raise not_found
    voucher = locked_voucher(platform=None, voucher_id=voucher_id)
    redemption = Redemption.objects.get(pk=redemption_id)
    checked_amount(amount, unit=voucher.unit, field_name="amount")
    if amount > redemption.reversible_amount:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("At most %(left)s of this charge can still be reversed.")
            % {"left": format_amount(redemption.reversible_amount, voucher.unit)},
            "amount",
        )
    reversal = Reversal.objects.create(
        redemption=redemption,
        platform=platform,
        reference=reference,
        amount=amount,
        reason=reason,
        balance_after=voucher.available + amount,
        request_fingerprint=fingerprint,
        request_evidence=evidence,
    )
    record_change(
        voucher,
        kind=LedgerEntry.Kind.REVERSAL,
        amount=amount,
        balance_change=amount,
        actor=actor,
        platform=platform,
        redemption=redemption,
        reversal=reversal,
        evidence=evidence,
        note=reason,
    )
    redemption.reverse(amount=amount)
    redemption.save(update_fields=["reversed_amount", "status"])
    fields: list[str] = []
    if voucher.status == Voucher.Status.EXHAUSTED and voucher.is_expired():
        before = voucher.status
        return_remainder(voucher, kind=LedgerEntry.Kind.EXPIRY, actor=actor)
        voucher.expire()
        audit_transition(voucher, actor=actor, event_type=events.VOUCHER_EXPIRED, before=before)
        fields = ["status"]
    elif voucher.status in Voucher.FINISHED:
        # The voucher has ended: what comes back goes on to the program.
        kind = (
            LedgerEntry.Kind.EXPIRY
            if voucher.status == Voucher.Status.EXPIRED
            else LedgerEntry.Kind.REVOCATION
        )
        return_remainder(voucher, kind=kind, actor=actor)
    else:
        fields = settle_status(voucher, actor=actor)
    save_voucher(voucher, fields)
    if reversal.balance_after != voucher.available:
        reversal.balance_after = voucher.available
        reversal.save(update_fields=["balance_after"])
    return ReversalResult(
        id=reversal.pk,
        redemption=redemption.pk,
        amount=amount,
        unit=voucher.unit,
        balance_after=voucher.available,
        replayed=False,
        created_at=reversal.created_at,
        reversal=reversal,
    )
