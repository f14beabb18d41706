"""Holds: part of a voucher reserved before a long job (POST holds), then
captured as a charge (which covers at most the held amount and releases the
rest), released, or expired by the periodic task.

A hold changes only under its voucher's lock: the voucher is locked first,
then the hold is read.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ComputePlatform
from audit.services import Actor
from common.bulk import insert_one
from common.errors import BusinessError, Code
from vouchers import queries
from vouchers.models import Hold, LedgerEntry, Voucher
from vouchers.services.coverage import (
    charge_of,
    check_usable,
    covered_of,
    new_redemption,
    redemption_replay,
)
from vouchers.services.inputs import (
    checked_amount,
    checked_code,
    checked_occurred_at,
    checked_reference,
    fingerprint_of,
    is_reference_clash,
    usage_lines,
)
from vouchers.services.ledger_writes import (
    locked_voucher,
    record_change,
    save_voucher,
    settle_status,
)
from vouchers.services.responses import HoldResult, RedemptionResult, format_amount

HOLD_DEFAULT_SECONDS = 3600
HOLD_MAX_SECONDS = 86400


def _hold_result(hold: Hold, *, unit: str, replayed: bool) -> HoldResult:
    return HoldResult(
        id=hold.pk,
        status=hold.status,
        amount=hold.amount,
        unit=unit,
        expires_at=hold.expires_at,
        balance_after=hold.balance_after,
        replayed=replayed,
        hold=hold,
    )


def hold_create(
    *,
    actor: Actor,
    platform: ComputePlatform,
    reference: str,
    amount: Decimal,
    voucher_code: str | None = None,
    voucher: Voucher | None = None,
    expires_in: int = HOLD_DEFAULT_SECONDS,
    request_evidence: dict[str, Any] | None = None,
) -> HoldResult:
    """Reserve part of a voucher before a long job (POST holds)."""
    reference = checked_reference(reference)
    code = voucher.code if voucher is not None else checked_code(voucher_code)
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int)
        or not 1 <= expires_in <= HOLD_MAX_SECONDS
    ):
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("expires_in is a number of seconds from 1 to 86400."),
            "expires_in",
        )
    checked = checked_amount(amount, unit=None, field_name="amount")
    fingerprint = fingerprint_of(voucher=code, amount=checked, expires_in=expires_in)
    try:
        return _hold_create(
            actor=actor,
            platform=platform,
            reference=reference,
            code=code,
            amount=checked,
            expires_in=expires_in,
            evidence=request_evidence,
            fingerprint=fingerprint,
        )
    except IntegrityError as exc:
        if not is_reference_clash(exc):
            raise
        replay = _hold_replay(platform=platform, reference=reference, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay


def _hold_replay(
    *, platform: ComputePlatform, reference: str, fingerprint: str
) -> HoldResult | None:
    existing = queries.HOLD_BY_REFERENCE.one(platform_id=platform.pk, reference=reference)
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise BusinessError(
            Code.REFERENCE_CONFLICT,
            _("This reference was already used for a different hold."),
            "reference",
        )
    return _hold_result(existing, unit=existing.voucher.unit, replayed=True)


@transaction.atomic
def _hold_create(
    *,
    actor: Actor,
    platform: ComputePlatform,
    reference: str,
    code: str,
    amount: Decimal,
    expires_in: int,
    evidence: dict[str, Any] | None,
    fingerprint: str,
) -> HoldResult:
    replay = _hold_replay(platform=platform, reference=reference, fingerprint=fingerprint)
    if replay is not None:
        return replay
    voucher = locked_voucher(platform=platform, code=code)
    fields = check_usable(voucher, platform=platform, occurred_at=None, actor=actor)
    checked_amount(amount, unit=voucher.unit, field_name="amount")
    if amount > voucher.available:
        raise BusinessError(
            Code.INSUFFICIENT_BALANCE,
            _("Only %(available)s of this voucher is available to hold.")
            % {"available": format_amount(voucher.available, voucher.unit)},
            "amount",
        )
    now = timezone.now()
    hold = Hold.objects.create(
        voucher=voucher,
        platform=platform,
        reference=reference,
        amount=amount,
        expires_at=now + datetime.timedelta(seconds=expires_in),
        balance_after=voucher.available - amount,
        request_fingerprint=fingerprint,
        request_evidence=evidence,
        created_at=now,
    )
    record_change(
        voucher,
        kind=LedgerEntry.Kind.HOLD,
        amount=amount,
        held_change=amount,
        actor=actor,
        platform=platform,
        hold=hold,
        evidence=evidence,
    )
    save_voucher(voucher, fields)
    return _hold_result(hold, unit=voucher.unit, replayed=False)


def _locked_hold(*, platform: ComputePlatform | None, hold_id: Any) -> tuple[Voucher, Hold]:
    """Lock the voucher of a hold, then read the hold (holds change only
    under their voucher's lock)."""
    if isinstance(hold_id, bool) or not isinstance(hold_id, int):
        raise BusinessError(Code.HOLD_NOT_FOUND, _("No such hold."), "hold")
    voucher_id = queries.voucher_id_of_hold(
        hold_id=hold_id, platform_id=None if platform is None else platform.pk
    )
    if voucher_id is None:
        raise BusinessError(Code.HOLD_NOT_FOUND, _("No such hold."), "hold")
    voucher = locked_voucher(platform=platform, voucher_id=voucher_id)
    hold = Hold.objects.get(pk=hold_id)
    return voucher, hold


def _refuse_unless_open(hold: Hold) -> None:
    if hold.status != Hold.Status.OPEN:
        raise BusinessError(
            Code.HOLD_NOT_OPEN,
            _("This hold is %(status)s.") % {"status": hold.get_status_display().lower()},
            "hold",
        )
    if hold.expires_at <= timezone.now():
        raise BusinessError(Code.HOLD_NOT_OPEN, _("This hold has expired."), "hold")


def release_hold(
    voucher: Voucher,
    hold: Hold,
    *,
    amount: Decimal,
    actor: Actor,
    status: str,
    evidence: dict[str, Any] | None,
    note: str = "",
) -> None:
    if amount > 0:
        record_change(
            voucher,
            kind=LedgerEntry.Kind.RELEASE,
            amount=amount,
            held_change=-amount,
            actor=actor,
            platform=hold.platform,
            hold=hold,
            evidence=evidence,
            note=note,
        )
    closing: dict[str, Any] = {
        Hold.Status.CAPTURED: hold.capture,
        Hold.Status.RELEASED: hold.release,
        Hold.Status.EXPIRED: hold.expire,
    }
    close = closing[status]
    close(at=timezone.now())
    hold.save(update_fields=["status", "closed_at"])


def hold_capture(
    *,
    actor: Actor,
    platform: ComputePlatform,
    hold_id: int,
    reference: str,
    occurred_at: datetime.datetime,
    billed_amount: Decimal | None = None,
    points_used: int | None = None,
    usage: Sequence[Mapping[str, Any]] = (),
    allow_partial: bool = True,
    request_evidence: dict[str, Any] | None = None,
) -> RedemptionResult:
    """Charge a hold: cover at most the held amount and release the rest."""
    reference = checked_reference(reference)
    occurred_at = checked_occurred_at(occurred_at)
    lines = usage_lines(usage)
    fingerprint = fingerprint_of(
        hold=hold_id,
        occurred_at=occurred_at,
        billed_amount=billed_amount,
        points_used=points_used,
        usage=lines,
        allow_partial=bool(allow_partial),
    )
    try:
        return _hold_capture(
            actor=actor,
            platform=platform,
            hold_id=hold_id,
            reference=reference,
            occurred_at=occurred_at,
            billed_amount=billed_amount,
            points_used=points_used,
            usage=lines,
            allow_partial=bool(allow_partial),
            evidence=request_evidence,
            fingerprint=fingerprint,
        )
    except IntegrityError as exc:
        if not is_reference_clash(exc):
            raise
        replay = redemption_replay(platform=platform, reference=reference, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay


@transaction.atomic
def _hold_capture(
    *,
    actor: Actor,
    platform: ComputePlatform,
    hold_id: int,
    reference: str,
    occurred_at: datetime.datetime,
    billed_amount: Any,
    points_used: Any,
    usage: list[dict[str, Any]],
    allow_partial: bool,
    evidence: dict[str, Any] | None,
    fingerprint: str,
) -> RedemptionResult:
    replay = redemption_replay(platform=platform, reference=reference, fingerprint=fingerprint)
    if replay is not None:
        return replay
    voucher, hold = _locked_hold(platform=platform, hold_id=hold_id)
    _refuse_unless_open(hold)
    fields = check_usable(voucher, platform=platform, occurred_at=occurred_at, actor=actor)
    charge = charge_of(
        voucher, occurred_at=occurred_at, billed_amount=billed_amount, points_used=points_used
    )
    covered = covered_of(charge, limit=hold.amount, allow_partial=allow_partial)
    # What is released becomes available again, what is covered leaves.
    balance_after = voucher.available + hold.amount - covered
    redemption = new_redemption(
        voucher,
        platform=platform,
        hold=hold,
        reference=reference,
        occurred_at=occurred_at,
        charge=charge,
        covered=covered,
        usage=usage,
        allow_partial=allow_partial,
        balance_after=balance_after,
        fingerprint=fingerprint,
        evidence=evidence,
    )
    insert_one(redemption)
    record_change(
        voucher,
        kind=LedgerEntry.Kind.CAPTURE,
        amount=covered,
        balance_change=-covered,
        held_change=-covered,
        actor=actor,
        platform=platform,
        redemption=redemption,
        hold=hold,
        evidence=evidence,
    )
    release_hold(
        voucher,
        hold,
        amount=hold.amount - covered,
        actor=actor,
        status=Hold.Status.CAPTURED,
        evidence=evidence,
        note=_("Rest of the hold after its capture."),
    )
    fields += settle_status(voucher, actor=actor)
    save_voucher(voucher, fields)
    return RedemptionResult.of(redemption, code=voucher.code, unit=voucher.unit, replayed=False)


@transaction.atomic
def hold_release(
    *,
    actor: Actor,
    platform: ComputePlatform,
    hold_id: int,
    request_evidence: dict[str, Any] | None = None,
) -> HoldResult:
    """Give a hold back to the voucher (POST holds/{id}/release)."""
    voucher, hold = _locked_hold(platform=platform, hold_id=hold_id)
    if hold.status != Hold.Status.OPEN:
        raise BusinessError(
            Code.HOLD_NOT_OPEN,
            _("This hold is %(status)s.") % {"status": hold.get_status_display().lower()},
            "hold",
        )
    release_hold(
        voucher,
        hold,
        amount=hold.amount,
        actor=actor,
        status=Hold.Status.RELEASED,
        evidence=request_evidence,
    )
    fields = settle_status(voucher, actor=actor)
    save_voucher(voucher, fields)
    result = _hold_result(hold, unit=voucher.unit, replayed=False)
    return replace(result, balance_after=voucher.available)


@transaction.atomic
def hold_expire(*, hold_id: int) -> bool:
    """Release one open hold past its expiry (the periodic task); idempotent."""
    actor = Actor.system("hold-expiry")
    voucher, hold = _locked_hold(platform=None, hold_id=hold_id)
    if hold.status != Hold.Status.OPEN or hold.expires_at > timezone.now():
        return False
    release_hold(
        voucher,
        hold,
        amount=hold.amount,
        actor=actor,
        status=Hold.Status.EXPIRED,
        evidence=None,
        note=_("Released at the hold's expiry."),
    )
    fields = settle_status(voucher, actor=actor)
    save_voucher(voucher, fields)
    return True
