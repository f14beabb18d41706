"""Judging a charge: whether a platform may charge a voucher now, what the
charge asks for, how much of it the voucher covers, and the redemption that
records it. A single charge, a usage batch and a hold's capture all decide
with these functions; they differ only in how they lock and write.

CNY: ``covered = min(billed × rate_in_force(occurred_at), available,
per_charge_cap)``, the product rounded *down* to the fen (a voucher never
covers more than the rate); ``payable_by_enterprise = billed − covered``.
POINTS: ``covered = min(points_used, available)`` (no rate, no per-charge
cap); ``payable_by_enterprise = points_used − covered`` in points.
``allow_partial=False`` refuses with ``insufficient_balance`` instead of
covering less than asked (after the cap).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, NamedTuple

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ComputePlatform
from audit.services import Actor
from common import formatting
from common.errors import BusinessError, Code
from programs.models import Program
from programs.phasedown import Step, rate_in_force
from vouchers import queries
from vouchers.models import Hold, Redemption, Voucher
from vouchers.services.inputs import checked_amount
from vouchers.services.ledger_writes import activate_if_due
from vouchers.services.responses import CENT, RedemptionResult


def refuse_unless_bound(voucher: Voucher, *, platform: ComputePlatform) -> None:
    """Refuse a suspended platform, and a voucher whose program is not bound
    to the platform (nor open to it as a cross-region program on the
    national list). ``platform_bound`` is annotated by the voucher's query."""
    if platform.status == ComputePlatform.Status.SUSPENDED:
        raise BusinessError(Code.PLATFORM_SUSPENDED, _("This platform is suspended."), None)
    bound = getattr(voucher, "platform_bound", False) or (
        voucher.program.cross_region and platform.on_national_list
    )
    if not bound:
        raise BusinessError(
            Code.PLATFORM_NOT_BOUND,
            _("This voucher may not be used on this platform."),
            "voucher",
        )


def check_usable(
    voucher: Voucher,
    *,
    platform: ComputePlatform,
    occurred_at: datetime.datetime | None,
    actor: Actor,
    now: datetime.datetime | None = None,
) -> list[str]:
    """Refuse a voucher that this platform may not charge now (``now``: the
    current time unless given); activates a voucher whose valid-from has
    passed. Returns the fields to save."""
    refuse_unless_bound(voucher, platform=platform)
    status = voucher.status
    if status in (Voucher.Status.REVOKED, Voucher.Status.CLAWED_BACK, Voucher.Status.SUSPENDED):
        raise BusinessError(
            Code.VOUCHER_NOT_ACTIVE,
            _("This voucher is %(status)s.") % {"status": voucher.get_status_display().lower()},
            "voucher",
        )
    if now is None:
        now = timezone.now()
    if (
        status == Voucher.Status.EXPIRED
        or voucher.is_expired(now=now)
        or (occurred_at is not None and occurred_at >= voucher.expires_at)
    ):
        raise BusinessError(Code.VOUCHER_EXPIRED, _("This voucher has expired."), "voucher")
    if status == Voucher.Status.EXHAUSTED:
        raise BusinessError(Code.VOUCHER_EXHAUSTED, _("This voucher is used up."), "voucher")
    fields = activate_if_due(voucher, actor=actor)
    if voucher.status != Voucher.Status.ACTIVE:
        raise BusinessError(
            Code.VOUCHER_NOT_ACTIVE,
            _("This voucher is not valid before %(date)s.")
            % {"date": formatting.moment(voucher.valid_from)},
            "voucher",
        )
    if occurred_at is not None and occurred_at < voucher.valid_from:
        raise BusinessError(
            Code.VOUCHER_NOT_ACTIVE,
            _("The usage happened before the voucher became valid."),
            "occurred_at",
        )
    return fields


class VoucherFacts(NamedTuple):
    """What :func:`charge_of` reads of a voucher: its program and unit (neither
    ever changes), to work out a charge before the voucher is locked."""

    program: Program
    unit: str


@dataclass(frozen=True)
class Charge:
    """What a charge asks for, before the balance is considered."""

    billed_amount: Decimal | None
    points_used: int | None
    rate: Decimal | None
    wanted: Decimal  # what the voucher would cover with an unlimited balance
    asked: Decimal  # what the enterprise's bill is in the voucher's unit


def charge_of(
    voucher: Voucher | VoucherFacts,
    *,
    occurred_at: datetime.datetime,
    billed_amount: Any,
    points_used: Any,
    steps: Sequence[Step] | None = None,
) -> Charge:
    program = voucher.program
    billed = (
        None
        if billed_amount is None
        else checked_amount(billed_amount, unit=Program.Unit.CNY, field_name="billed_amount")
    )
    if voucher.unit == Program.Unit.POINTS:
        if points_used is None:
            raise BusinessError(
                Code.VALIDATION_ERROR, _("usage is required for vouchers in points."), "usage"
            )
        if isinstance(points_used, bool) or not isinstance(points_used, int) or points_used <= 0:
            raise BusinessError(
                Code.VALIDATION_ERROR,
                _("points_used must be a whole number greater than zero."),
                "usage",
            )
        points = Decimal(points_used).quantize(CENT)
        return Charge(billed, points_used, None, points, points)
    if billed is None:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("billed_amount is required for vouchers in yuan."),
            "billed_amount",
        )
    rate = rate_in_force(program, on=occurred_at, steps=steps)
    wanted = (billed * rate).quantize(CENT, rounding=ROUND_DOWN)
    if program.per_charge_cap is not None:
        wanted = min(wanted, program.per_charge_cap)
    if wanted <= 0:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("Nothing of this charge can be covered at the rate in force."),
            "billed_amount",
        )
    return Charge(billed, None, rate, wanted, billed)


def covered_of(charge: Charge, *, limit: Decimal, allow_partial: bool) -> Decimal:
    if limit <= 0:
        raise BusinessError(
            Code.INSUFFICIENT_BALANCE,
            _("Nothing of this voucher is available now."),
            "voucher",
        )
    covered = min(charge.wanted, limit)
    if covered < charge.wanted and not allow_partial:
        raise BusinessError(
            Code.INSUFFICIENT_BALANCE,
            _("The voucher cannot cover this charge in full (%(available)s available).")
            % {"available": limit},
            "billed_amount" if charge.rate is not None else "usage",
        )
    return covered


def new_redemption(
    voucher: Voucher,
    *,
    platform: ComputePlatform,
    reference: str,
    occurred_at: datetime.datetime,
    charge: Charge,
    covered: Decimal,
    usage: list[dict[str, Any]],
    allow_partial: bool,
    balance_after: Decimal,
    fingerprint: str,
    evidence: dict[str, Any] | None,
    hold: Hold | None = None,
) -> Redemption:
    """A charge's redemption row, built (not saved) from what was decided."""
    return Redemption(
        **({"hold": hold} if hold is not None else {}),
        voucher=voucher,
        platform=platform,
        reference=reference,
        occurred_at=occurred_at,
        billed_amount=charge.billed_amount,
        rate_applied=charge.rate,
        points_used=charge.points_used,
        covered=covered,
        payable_by_enterprise=charge.asked - covered,
        usage=usage,
        allow_partial=allow_partial,
        balance_after=balance_after,
        request_fingerprint=fingerprint,
        request_evidence=evidence,
        created_at=timezone.now(),
    )


def reference_conflict() -> BusinessError:
    return BusinessError(
        Code.REFERENCE_CONFLICT,
        _("This reference was already used for a different charge."),
        "reference",
    )


def refuse_unless_replay(existing: Any, *, fingerprint: str) -> None:
    """A charge under a used reference is a replay only when it is the same
    request; a different one is a conflict."""
    if existing.request_fingerprint != fingerprint:
        raise reference_conflict()


def replayed_redemption(existing: Redemption, *, fingerprint: str) -> RedemptionResult:
    """The stored result of a charge under a used reference, marked as
    replayed; a different request under the reference is a conflict."""
    refuse_unless_replay(existing, fingerprint=fingerprint)
    return RedemptionResult.of(
        existing, code=existing.voucher.code, unit=existing.voucher.unit, replayed=True
    )


def redemption_replay(
    *, platform: ComputePlatform, reference: str, fingerprint: str
) -> RedemptionResult | None:
    """The stored result for a used reference, or None; a conflict raises."""
    existing = queries.REDEMPTION_BY_REFERENCE.one(platform_id=platform.pk, reference=reference)
    if existing is None:
        return None
    return replayed_redemption(existing, fingerprint=fingerprint)
