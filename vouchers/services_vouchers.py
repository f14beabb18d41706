"""Voucher services: issuance, lifecycle, the ledger, holds, redemptions and
reversals. Every write of the vouchers app's voucher side goes through here.

Semantics are those of ``shared/platform-api.md``. The platform API calls
these functions with plain values (it turns usage lines into points and
checks signatures and idempotency first); ``vouchers`` never imports
``platforms``. All functions are keyword-only; refusals raise
:class:`vouchers.errors.BusinessError` with the contract's codes.

Signatures for the API (``actor`` is ``audit.services.Actor``; for a platform
call ``Actor.platform_key(key_id, source_ip=..., evidence=...)``)::

    voucher_redeem(*, actor, platform, reference: str, occurred_at: datetime,
                   voucher_code: str | None = None, voucher: Voucher | None = None,
                   billed_amount: Decimal | None = None, points_used: int | None = None,
                   usage: Sequence[Mapping[str, Any]] = (), allow_partial: bool = True,
                   request_evidence: dict | None = None) -> RedemptionResult
    hold_create(*, actor, platform, reference: str, amount: Decimal,
                voucher_code: str | None = None, voucher: Voucher | None = None,
                expires_in: int = 3600, request_evidence: dict | None = None) -> HoldResult
    hold_capture(*, actor, platform, hold_id: int, reference: str, occurred_at: datetime,
                 billed_amount: Decimal | None = None, points_used: int | None = None,
                 usage: Sequence[Mapping[str, Any]] = (), allow_partial: bool = True,
                 request_evidence: dict | None = None) -> RedemptionResult
    hold_release(*, actor, platform, hold_id: int,
                 request_evidence: dict | None = None) -> HoldResult
    redemption_reverse(*, actor, platform, redemption_id: int, amount: Decimal,
                       reference: str, reason: str = "",
                       request_evidence: dict | None = None) -> ReversalResult
    voucher_lookup(*, platform, voucher_code: str) -> VoucherView    (GET vouchers/{code})

Each result has ``as_dict()`` giving the contract's response body (amounts as
decimal strings) and the model instance it came from.

Amounts and units
    Amounts are ``Decimal`` (a ``float`` is a ``validation_error``): CNY with
    at most 2 places, POINTS whole. ``Voucher.balance`` is what is left on
    the voucher including what is held; the contract's ``balance`` and every
    ``balance_after`` are ``Voucher.available`` (= balance − held), so that
    ``face_value = balance + held + Σ covered − Σ reversed + remainder``.

Coverage
    CNY: ``covered = min(billed × rate_in_force(occurred_at), available,
    per_charge_cap)``, the product rounded *down* to the fen (a voucher never
    covers more than the rate); ``payable_by_enterprise = billed − covered``.
    POINTS: ``covered = min(points_used, available)`` (the contract's formula:
    no rate, no per-charge cap); ``payable_by_enterprise = points_used −
    covered`` in points, and ``rate_applied`` is None. ``allow_partial=False``
    refuses with ``insufficient_balance`` instead of covering less than asked
    (after the cap). A capture covers at most the held amount and releases
    the rest.

References
    ``reference`` is unique per platform, separately for redemptions
    (direct or by capture), holds and reversals. The same request again
    returns the stored result with ``replayed=True`` and changes nothing; a
    different request under a used reference raises ``reference_conflict``.
    "The same" compares every input: voucher (or hold / redemption),
    occurred_at, amounts, points, usage lines, allow_partial, expires_in,
    reason.

Refusals (code → when)
    validation_error (malformed input, a code with a wrong check character,
    occurred_at more than 5 minutes in the future, a reversal above what is
    left to reverse); voucher_not_found; platform_suspended;
    platform_not_bound; voucher_not_active (issued but not yet valid,
    suspended, revoked, clawed back, usage before valid-from); voucher_expired
    (expired, or usage / now at or after expires_at); voucher_exhausted;
    insufficient_balance (nothing available, or short and not allow_partial;
    a hold larger than what is available); hold_not_found (also another
    platform's hold); hold_not_open (captured, released or past its
    expires_at); redemption_not_found (also another platform's).

Concurrency
    Each call is one transaction that locks only the voucher's row
    (``SELECT … FOR UPDATE OF voucher``). Program budget counters are locked
    only by issuance, expiry, revocation and clawback, never by redemptions.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Model, OuterRef, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from accounts.duties import duties_conflict
from accounts.models import ComputePlatform, Enterprise
from accounts.uscc import uscc_problem
from applications.grants import amount_refusal, enterprise_refusals, granted_to
from applications.models import Application, BulkIssuance
from applications.notifications import notify_voucher_issued
from audit import events
from audit.services import Actor, audit_event, audit_record, audit_record_all
from common.bulk import copy_insert, insert_one
from common.compiled_query import CompiledQuery
from common.errors import BusinessError, Code
from programs.models import Program
from programs.phasedown import Step, exit_date, rate_in_force, steps_of

from .codes import generate_code, normalize_code
from .models import Hold, LedgerEntry, Receivable, Redemption, Reversal, Voucher, official_may

if TYPE_CHECKING:
    from eligibility.evaluator import Decision

CENT = Decimal("0.01")
ONE = Decimal("1")
FUTURE_TOLERANCE = datetime.timedelta(minutes=5)
HOLD_DEFAULT_SECONDS = 3600
HOLD_MAX_SECONDS = 86400
DEFAULT_VALIDITY_DAYS = 365
BULK_MAX_ROWS = 5000

M = TypeVar("M", bound=Model)


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


def format_amount(value: Decimal | None, unit: str) -> str | None:
    """A contract amount string: "120.00" for CNY, "1500" for POINTS."""
    if value is None:
        return None
    if unit == Program.Unit.POINTS:
        return str(value.quantize(ONE))
    return str(value.quantize(CENT))


def _iso(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).isoformat()


@dataclass(frozen=True)
class RedemptionResult:
    """The contract's redemption result (POST redemptions, hold capture)."""

    id: int
    voucher: str
    reference: str
    status: str
    unit: str
    billed_amount: Decimal | None
    rate_applied: Decimal | None
    covered: Decimal
    payable_by_enterprise: Decimal | None
    points_used: int | None
    balance_after: Decimal
    replayed: bool
    created_at: datetime.datetime
    redemption: Redemption = field(repr=False, compare=False)

    @classmethod
    def of(
        cls, redemption: Redemption, *, code: str, unit: str, replayed: bool
    ) -> RedemptionResult:
        # The result of a charge is what it was when it was made: status
        # "captured" and the balance after it, also when replayed later.
        return cls(
            id=redemption.pk,
            voucher=code,
            reference=redemption.reference,
            status=Redemption.Status.CAPTURED,
            unit=unit,
            billed_amount=redemption.billed_amount,
            rate_applied=redemption.rate_applied,
            covered=redemption.covered,
            payable_by_enterprise=redemption.payable_by_enterprise,
            points_used=redemption.points_used,
            balance_after=redemption.balance_after,
            replayed=replayed,
            created_at=redemption.created_at,
            redemption=redemption,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "voucher": self.voucher,
            "reference": self.reference,
            "status": str(self.status),
            "unit": str(self.unit),
            "billed_amount": format_amount(self.billed_amount, Program.Unit.CNY),
            "rate_applied": None if self.rate_applied is None else f"{self.rate_applied:f}",
            "covered": format_amount(self.covered, self.unit),
            "payable_by_enterprise": format_amount(self.payable_by_enterprise, self.unit),
            "points_used": self.points_used,
            "balance_after": format_amount(self.balance_after, self.unit),
            "replayed": self.replayed,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class HoldResult:
    """The contract's hold result (create, release)."""

    id: int
    status: str
    amount: Decimal
    unit: str
    expires_at: datetime.datetime
    balance_after: Decimal
    replayed: bool
    hold: Hold = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": str(self.status),
            "amount": format_amount(self.amount, self.unit),
            "expires_at": _iso(self.expires_at),
            "balance_after": format_amount(self.balance_after, self.unit),
            "replayed": self.replayed,
        }


@dataclass(frozen=True)
class ReversalResult:
    """The contract's reversal result."""

    id: int
    redemption: int
    amount: Decimal
    unit: str
    balance_after: Decimal
    replayed: bool
    created_at: datetime.datetime
    reversal: Reversal = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "redemption": self.redemption,
            "amount": format_amount(self.amount, self.unit),
            "balance_after": format_amount(self.balance_after, self.unit),
            "replayed": self.replayed,
        }


@dataclass(frozen=True)
class VoucherView:
    """The contract's voucher lookup body (GET vouchers/{code})."""

    voucher: Voucher
    rate_in_force: Decimal

    def as_dict(self) -> dict[str, Any]:
        v = self.voucher
        return {
            "code": v.code,
            "status": str(v.status),
            "unit": str(v.unit),
            "balance": format_amount(v.available, v.unit),
            "held": format_amount(v.held, v.unit),
            "face_value": format_amount(v.face_value, v.unit),
            "program": {
                "id": v.program_id,
                "name": v.program.display_name,
                "district": v.program.district.display_name,
            },
            "enterprise": {"name": v.enterprise.name},
            "rate_in_force": f"{self.rate_in_force:f}",
            "valid_from": _iso(v.valid_from),
            "expires_at": _iso(v.expires_at),
        }


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _fingerprint(**fields: Any) -> str:
    """A digest of a request's inputs, to tell a replay from a conflict."""

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        if isinstance(value, datetime.datetime):
            return value.astimezone(datetime.UTC).isoformat()
        return value

    body = json.dumps(
        {k: plain(v) for k, v in fields.items()}, sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _amount(value: Any, *, unit: str | None, field_name: str, allow_zero: bool = False) -> Decimal:
    """Validate an amount: a Decimal (or int), positive, in the unit's precision."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise BusinessError(
            Code.VALIDATION_ERROR, _("An amount must be a decimal string."), field_name
        )
    amount = Decimal(value)
    if not amount.is_finite():
        raise BusinessError(Code.VALIDATION_ERROR, _("This amount is not a number."), field_name)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise BusinessError(
            Code.VALIDATION_ERROR, _("The amount must be greater than zero."), field_name
        )
    if unit == Program.Unit.POINTS and amount != amount.to_integral_value():
        raise BusinessError(
            Code.VALIDATION_ERROR, _("Point amounts are whole numbers."), field_name
        )
    if amount != amount.quantize(CENT, rounding=ROUND_DOWN):
        raise BusinessError(
            Code.VALIDATION_ERROR, _("Amounts have at most 2 decimal places."), field_name
        )
    if amount >= Decimal("1e14"):
        raise BusinessError(Code.VALIDATION_ERROR, _("This amount is too large."), field_name)
    return amount.quantize(CENT)


def _reference(reference: Any) -> str:
    if not isinstance(reference, str) or not 1 <= len(reference) <= 255:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("A reference is required, at most 255 characters."),
            "reference",
        )
    return reference


def _occurred_at(moment: Any) -> datetime.datetime:
    if not isinstance(moment, datetime.datetime) or timezone.is_naive(moment):
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("occurred_at must be an ISO 8601 time with a UTC offset."),
            "occurred_at",
        )
    if moment > timezone.now() + FUTURE_TOLERANCE:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("occurred_at lies in the future."), "occurred_at"
        )
    return moment


def _code(text: Any) -> str:
    code = normalize_code(text) if isinstance(text, str) else None
    if code is None:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("This is not a valid voucher code; please check it for typos."),
            "voucher",
        )
    return code


def _not_found() -> BusinessError:
    return BusinessError(Code.VOUCHER_NOT_FOUND, _("No voucher has this code."), "voucher")


def _is_reference_clash(exc: IntegrityError) -> bool:
    return "reference_unique_per_platform" in str(exc)


def _only(queryset: QuerySet[M]) -> M | None:
    """The one row of a query on a unique key, or None, with no ORDER BY.

    ``.first()`` would add the model's ordering: on ``(platform, reference)``
    of redemptions PostgreSQL then walked the platform's index on
    ``(platform, created_at, id)`` backwards, filtering on the reference, so
    a new reference (every charge's look-up) read all the platform's rows.
    """
    return next(iter(queryset.order_by()[:1]), None)


def _lock_query(*, by_id: bool, bound: bool) -> CompiledQuery[Voucher]:
    """The voucher lock by id or by code, with ``platform_bound`` or without."""

    def build(key: Any, platform_id: Any = None) -> QuerySet[Voucher]:
        qs = Voucher.objects.select_for_update(of=("self",)).select_related("program")
        if bound:
            qs = qs.annotate(
                platform_bound=Exists(
                    Program.platforms.through.objects.filter(
                        program_id=OuterRef("program_id"), computeplatform_id=platform_id
                    )
                )
            )
        return (qs.filter(pk=key) if by_id else qs.filter(code=key)).order_by()[:1]

    kinds: dict[str, type] = {"key": int if by_id else str}
    if bound:
        kinds["platform_id"] = int
    return CompiledQuery(build, **kinds)


# Every charge, hold and reversal locks its voucher: the queries are compiled once.
_LOCKS = {
    (by_id, bound): _lock_query(by_id=by_id, bound=bound)
    for by_id in (False, True)
    for bound in (False, True)
}


def _locked_voucher(
    *,
    platform: ComputePlatform | None,
    voucher_id: int | None = None,
    code: str | None = None,
) -> Voucher:
    """The voucher row, locked for this transaction (and only it), with its
    program; ``platform_bound`` is annotated. (Not the district and the
    enterprise: a change needs only their ids, and joining them cost each
    charge a five-table query and the decryption of the enterprise's fields.)"""
    by_id = bool(voucher_id)
    values: dict[str, Any] = {"key": int(voucher_id) if voucher_id else str(code)}
    if platform is not None:
        values["platform_id"] = platform.pk
    voucher = _LOCKS[by_id, platform is not None].one(**values)
    if voucher is None:
        raise _not_found()
    return voucher


def _entry(
    voucher: Voucher,
    *,
    kind: str,
    amount: Decimal,
    actor: Actor,
    balance_change: Decimal = Decimal("0"),
    held_change: Decimal = Decimal("0"),
    program_return: Decimal = Decimal("0"),
    platform: ComputePlatform | None = None,
    redemption: Redemption | None = None,
    hold: Hold | None = None,
    reversal: Reversal | None = None,
    evidence: dict[str, Any] | None = None,
    note: str = "",
) -> LedgerEntry:
    """Apply one change to the (locked) voucher in memory and build, without
    saving, its ledger entry. The caller saves both and records the event."""
    voucher.balance += balance_change
    voucher.held += held_change
    # Only the relations there are: Model.__init__ setting a None relation
    # through its descriptor cost a usage batch ~10 % of its time.
    relations = {
        "redemption": redemption,
        "hold": hold,
        "reversal": reversal,
        "platform": platform,
        "actor_user": actor.user,
    }
    return LedgerEntry(
        **{name: value for name, value in relations.items() if value is not None},
        voucher=voucher,
        kind=kind,
        amount=amount,
        balance_change=balance_change,
        held_change=held_change,
        balance_after=voucher.balance,
        held_after=voucher.held,
        program_return=program_return,
        actor_kind=actor.kind,
        actor_label=actor.label[:200],
        request_evidence=evidence,
        note=note,
    )


def _entry_event(entry: LedgerEntry, *, actor: Actor) -> Any:
    """The audit event of a saved ledger entry (built, not saved)."""
    voucher = entry.voucher
    return audit_event(
        actor=actor,
        event_type=events.LEDGER_ENTRY_RECORDED,
        obj=entry,
        after={
            "voucher": voucher.code,
            "kind": entry.kind,
            "amount": str(entry.amount),
            "balance_after": str(entry.balance_after),
            "held_after": str(entry.held_after),
            "program_return": str(entry.program_return),
            "reference": _reference_of(entry.redemption, entry.hold, entry.reversal),
        },
        district_id=voucher.program.district_id,
        enterprise_id=voucher.enterprise_id,
        platform_id=entry.platform_id,
        note=entry.note,
    )


def _record(voucher: Voucher, *, actor: Actor, **change: Any) -> LedgerEntry:
    """Apply one change to the (locked) voucher and write its ledger entry and
    audit event (:func:`_entry` takes the change). The caller saves the voucher."""
    entry = _entry(voucher, actor=actor, **change)
    insert_one(entry)
    audit_record_all([_entry_event(entry, actor=actor)])
    return entry


def _reference_of(*rows: Redemption | Hold | Reversal | None) -> str | None:
    for row in rows:
        if row is not None:
            return row.reference
    return None


def _audit_transition(
    voucher: Voucher, *, actor: Actor, event_type: str, before: str, note: str = ""
) -> None:
    audit_record(
        actor=actor,
        event_type=event_type,
        obj=voucher,
        before={"status": before},
        after={
            "status": voucher.status,
            "balance": str(voucher.balance),
            "held": str(voucher.held),
        },
        district_id=voucher.program.district_id,
        enterprise_id=voucher.enterprise_id,
        note=note,
    )


def _settle_status(voucher: Voucher, *, actor: Actor) -> list[str]:
    """Move an active voucher that has nothing left to exhausted, and an
    exhausted one that got something back to active. Returns the fields to save."""
    before = voucher.status
    if voucher.status == Voucher.Status.ACTIVE and can_proceed(voucher.exhaust):
        voucher.exhaust()
        _audit_transition(voucher, actor=actor, event_type=events.VOUCHER_EXHAUSTED, before=before)
        return ["status", "status_reason"]
    if voucher.status == Voucher.Status.EXHAUSTED and can_proceed(voucher.replenish):
        voucher.replenish()
        _audit_transition(
            voucher, actor=actor, event_type=events.VOUCHER_REPLENISHED, before=before
        )
        return ["status", "status_reason"]
    return []


def _activate_if_due(voucher: Voucher, *, actor: Actor) -> list[str]:
    if voucher.status == Voucher.Status.ISSUED and can_proceed(voucher.activate):
        before = voucher.status
        voucher.activate()
        _audit_transition(
            voucher,
            actor=Actor.system("voucher-activation") if actor.kind != "system" else actor,
            event_type=events.VOUCHER_ACTIVATED,
            before=before,
        )
        return ["status", "status_reason"]
    return []


def _check_usable(
    voucher: Voucher,
    *,
    platform: ComputePlatform,
    occurred_at: datetime.datetime | None,
    actor: Actor,
) -> list[str]:
    """Refuse a voucher that this platform may not charge now; activates a
    voucher whose valid-from has passed. Returns the fields to save."""
    if platform.status == ComputePlatform.Status.SUSPENDED:
        raise BusinessError(Code.PLATFORM_SUSPENDED, _("This platform is suspended."), None)
    program = voucher.program
    bound = getattr(voucher, "platform_bound", False) or (
        program.cross_region and platform.on_national_list
    )
    if not bound:
        raise BusinessError(
            Code.PLATFORM_NOT_BOUND,
            _("This voucher may not be used on this platform."),
            "voucher",
        )
    status = voucher.status
    if status in (Voucher.Status.REVOKED, Voucher.Status.CLAWED_BACK, Voucher.Status.SUSPENDED):
        raise BusinessError(
            Code.VOUCHER_NOT_ACTIVE,
            _("This voucher is %(status)s.") % {"status": voucher.get_status_display().lower()},
            "voucher",
        )
    now = timezone.now()
    if (
        status == Voucher.Status.EXPIRED
        or voucher.is_expired(now=now)
        or (occurred_at is not None and occurred_at >= voucher.expires_at)
    ):
        raise BusinessError(Code.VOUCHER_EXPIRED, _("This voucher has expired."), "voucher")
    if status == Voucher.Status.EXHAUSTED:
        raise BusinessError(Code.VOUCHER_EXHAUSTED, _("This voucher is used up."), "voucher")
    fields = _activate_if_due(voucher, actor=actor)
    if voucher.status != Voucher.Status.ACTIVE:
        raise BusinessError(
            Code.VOUCHER_NOT_ACTIVE,
            _("This voucher is not valid before %(date)s.")
            % {"date": timezone.localtime(voucher.valid_from).strftime("%Y-%m-%d %H:%M")},
            "voucher",
        )
    if occurred_at is not None and occurred_at < voucher.valid_from:
        raise BusinessError(
            Code.VOUCHER_NOT_ACTIVE,
            _("The usage happened before the voucher became valid."),
            "occurred_at",
        )
    return fields


@dataclass(frozen=True)
class _Charge:
    """What a charge asks for, before the balance is considered."""

    billed_amount: Decimal | None
    points_used: int | None
    rate: Decimal | None
    wanted: Decimal  # what the voucher would cover with an unlimited balance
    asked: Decimal  # what the enterprise's bill is in the voucher's unit


def _charge(
    voucher: Voucher,
    *,
    occurred_at: datetime.datetime,
    billed_amount: Any,
    points_used: Any,
    steps: Sequence[Step] | None = None,
) -> _Charge:
    program = voucher.program
    billed = (
        None
        if billed_amount is None
        else _amount(billed_amount, unit=Program.Unit.CNY, field_name="billed_amount")
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
        return _Charge(billed, points_used, None, points, points)
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
    return _Charge(billed, None, rate, wanted, billed)


def _cover(charge: _Charge, *, limit: Decimal, allow_partial: bool) -> Decimal:
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


def _redemption(
    voucher: Voucher,
    *,
    platform: ComputePlatform,
    reference: str,
    occurred_at: datetime.datetime,
    charge: _Charge,
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


def _usage_lines(usage: Any) -> list[dict[str, Any]]:
    if usage is None:
        return []
    if not isinstance(usage, Sequence) or isinstance(usage, str | bytes):
        raise BusinessError(Code.VALIDATION_ERROR, _("usage must be a list."), "usage")
    lines = []
    for line in usage:
        if not isinstance(line, Mapping):
            raise BusinessError(
                Code.VALIDATION_ERROR, _("Each usage line must be an object."), "usage"
            )
        lines.append(json.loads(json.dumps(dict(line), default=str)))
    return lines


# ---------------------------------------------------------------------------
# Redemptions
# ---------------------------------------------------------------------------


def voucher_redeem(
    *,
    actor: Actor,
    platform: ComputePlatform,
    reference: str,
    occurred_at: datetime.datetime,
    voucher_code: str | None = None,
    voucher: Voucher | None = None,
    billed_amount: Decimal | None = None,
    points_used: int | None = None,
    usage: Sequence[Mapping[str, Any]] = (),
    allow_partial: bool = True,
    request_evidence: dict[str, Any] | None = None,
) -> RedemptionResult:
    """Deduct one charge from a voucher now (POST redemptions)."""
    reference = _reference(reference)
    occurred_at = _occurred_at(occurred_at)
    code = voucher.code if voucher is not None else _code(voucher_code)
    lines = _usage_lines(usage)
    fingerprint = _fingerprint(
        voucher=code,
        occurred_at=occurred_at,
        billed_amount=billed_amount,
        points_used=points_used,
        usage=lines,
        allow_partial=bool(allow_partial),
    )
    try:
        return _redeem(
            actor=actor,
            platform=platform,
            reference=reference,
            occurred_at=occurred_at,
            code=code,
            billed_amount=billed_amount,
            points_used=points_used,
            usage=lines,
            allow_partial=bool(allow_partial),
            evidence=request_evidence,
            fingerprint=fingerprint,
        )
    except IntegrityError as exc:
        # A concurrent request took the reference between our look-up and
        # our insert: answer as if it had come first.
        if not _is_reference_clash(exc):
            raise
        replay = _redemption_replay(platform=platform, reference=reference, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay


def _save_amounts(vouchers: list[Voucher]) -> None:
    """Write the balance and held amount of these (locked) vouchers in one UPDATE:
    the common case of a batch, where a voucher's amounts changed and nothing else."""
    if not vouchers:
        return
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        Voucher.objects.bulk_update(vouchers, ["balance", "held"])
        return
    rows = ", ".join(["(%s, %s::numeric, %s::numeric)"] * len(vouchers))
    params: list[Any] = []
    for voucher in vouchers:
        params += [voucher.pk, voucher.balance, voucher.held]
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{Voucher._meta.db_table}" AS v '  # noqa: S608 - placeholders only
            "SET balance = d.balance, held = d.held "
            f"FROM (VALUES {rows}) AS d(id, balance, held) WHERE v.id = d.id",
            params,
        )


def _save_voucher(voucher: Voucher, fields: Sequence[str]) -> None:
    """Write a (locked) voucher's balance and held amount, and ``fields`` if any.

    A charge, hold or refund usually changes the two amounts and nothing
    else: that is :func:`_save_amounts`' one fixed UPDATE, not an UPDATE
    compiled by ``save(update_fields=...)`` each time."""
    if fields:
        voucher.save(update_fields=["balance", "held", *fields])
    else:
        _save_amounts([voucher])


def _reference_conflict() -> BusinessError:
    return BusinessError(
        Code.REFERENCE_CONFLICT,
        _("This reference was already used for a different charge."),
        "reference",
    )


R = TypeVar("R", Redemption, Hold, Reversal)


def _by_reference(model: type[R], related: str) -> CompiledQuery[R]:
    """The platform's row of ``model`` with a reference, and its ``related`` rows."""
    return CompiledQuery(
        lambda platform_id, reference: (
            model.objects.filter(platform_id=platform_id, reference=reference)
            .select_related(related)
            .order_by()[:1]
        ),
        platform_id=int,
        reference=str,
    )


# Every charge, hold and reversal looks its reference up first (compiled
# once, like the locks).
_REDEMPTION_BY_REFERENCE = _by_reference(Redemption, "voucher")


def _redemption_replay(
    *, platform: ComputePlatform, reference: str, fingerprint: str
) -> RedemptionResult | None:
    """The stored result for a used reference, or None; a conflict raises."""
    existing = _REDEMPTION_BY_REFERENCE.one(platform_id=platform.pk, reference=reference)
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise _reference_conflict()
    return RedemptionResult.of(
        existing, code=existing.voucher.code, unit=existing.voucher.unit, replayed=True
    )


@transaction.atomic
def _redeem(
    *,
    actor: Actor,
    platform: ComputePlatform,
    reference: str,
    occurred_at: datetime.datetime,
    code: str,
    billed_amount: Any,
    points_used: Any,
    usage: list[dict[str, Any]],
    allow_partial: bool,
    evidence: dict[str, Any] | None,
    fingerprint: str,
) -> RedemptionResult:
    replay = _redemption_replay(platform=platform, reference=reference, fingerprint=fingerprint)
    if replay is not None:
        return replay
    voucher = _locked_voucher(platform=platform, code=code)
    fields = _check_usable(voucher, platform=platform, occurred_at=occurred_at, actor=actor)
    charge = _charge(
        voucher, occurred_at=occurred_at, billed_amount=billed_amount, points_used=points_used
    )
    covered = _cover(charge, limit=voucher.available, allow_partial=allow_partial)
    redemption = _redemption(
        voucher,
        platform=platform,
        reference=reference,
        occurred_at=occurred_at,
        charge=charge,
        covered=covered,
        usage=usage,
        allow_partial=allow_partial,
        balance_after=voucher.available - covered,
        fingerprint=fingerprint,
        evidence=evidence,
    )
    insert_one(redemption)
    _record(
        voucher,
        kind=LedgerEntry.Kind.CAPTURE,
        amount=covered,
        balance_change=-covered,
        actor=actor,
        platform=platform,
        redemption=redemption,
        evidence=evidence,
    )
    fields += _settle_status(voucher, actor=actor)
    _save_voucher(voucher, fields)
    return RedemptionResult.of(redemption, code=voucher.code, unit=voucher.unit, replayed=False)


class _BatchWrites:
    """The rows a batch has decided to write, inserted in bulk on :meth:`flush`."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.redemptions: list[Redemption] = []
        self.entries: list[LedgerEntry] = []

    def flush(self) -> None:
        copy_insert(self.redemptions)
        for entry in self.entries:
            # Re-assign the object (now with its id) rather than setting
            # redemption_id: that would drop the cached redemption, and the
            # audit event below would fetch each one again.
            entry.redemption = entry.redemption
        copy_insert(self.entries)
        audit_record_all([_entry_event(entry, actor=self.actor) for entry in self.entries])
        self.redemptions = []
        self.entries = []


@dataclass(frozen=True)
class RedeemInput:
    """One charge of :func:`voucher_redeem_batch`: the arguments of :func:`voucher_redeem`."""

    reference: Any
    occurred_at: Any
    voucher_code: Any
    billed_amount: Any = None
    points_used: Any = None
    usage: Any = ()
    allow_partial: bool = True


@dataclass
class _Prepared:
    index: int
    reference: str
    occurred_at: datetime.datetime
    code: str
    lines: list[dict[str, Any]]
    item: RedeemInput
    fingerprint: str


def _prepare(index: int, item: RedeemInput) -> _Prepared:
    reference = _reference(item.reference)
    occurred_at = _occurred_at(item.occurred_at)
    code = _code(item.voucher_code)
    lines = _usage_lines(item.usage)
    fingerprint = _fingerprint(
        voucher=code,
        occurred_at=occurred_at,
        billed_amount=item.billed_amount,
        points_used=item.points_used,
        usage=lines,
        allow_partial=bool(item.allow_partial),
    )
    return _Prepared(index, reference, occurred_at, code, lines, item, fingerprint)


def voucher_redeem_batch(
    *,
    actor: Actor,
    platform: ComputePlatform,
    items: Sequence[RedeemInput],
    request_evidence: dict[str, Any] | None = None,
) -> list[RedemptionResult | BusinessError]:
    """Charge many redemptions at once (a usage batch): one result per item, in order.

    Each item is judged exactly as :func:`voucher_redeem` would judge it sent
    alone, in the order given (a later item sees the balance the earlier ones
    left), and stands or falls alone: a refused item is a ``BusinessError``
    in its place and changes nothing. The accepted ones are written together —
    every voucher involved locked once, in id order, and the redemptions,
    ledger entries and audit events inserted in bulk — which is what makes a
    batch of 1,000 records cheap. If the bulk write meets a concurrent request
    with one of the same references, the batch is re-run item by item through
    :func:`voucher_redeem`, so the answers are the same either way.
    """
    try:
        with transaction.atomic():
            return _redeem_batch(
                actor=actor, platform=platform, items=items, evidence=request_evidence
            )
    except IntegrityError as exc:
        if not _is_reference_clash(exc):
            raise
    results: list[RedemptionResult | BusinessError] = []
    for item in items:
        try:
            results.append(
                voucher_redeem(
                    actor=actor,
                    platform=platform,
                    reference=item.reference,
                    occurred_at=item.occurred_at,
                    voucher_code=item.voucher_code,
                    billed_amount=item.billed_amount,
                    points_used=item.points_used,
                    usage=item.usage,
                    allow_partial=item.allow_partial,
                    request_evidence=request_evidence,
                )
            )
        except BusinessError as refusal:
            results.append(refusal)
    return results


# One index probe per reference, whatever the planner believes about the
# platform: as "platform_id = %s AND reference IN (...)" PostgreSQL scanned
# all of the platform's redemptions whenever its statistics underrated them
# (515 ms for 1,000 references at 420,000 rows; 2.7 ms this way).
EXISTING_REFERENCES_SQL = (
    'SELECT r.id FROM unnest(%s::text[]) AS wanted(reference) JOIN "vouchers_redemption" r '
    "ON r.platform_id = %s AND r.reference = wanted.reference"
)


def _redemptions_by_reference(
    platform: ComputePlatform, references: set[str]
) -> dict[str, Redemption]:
    """The platform's redemptions with these references (a batch's replays), by reference."""
    if not references:
        return {}
    found = Redemption.objects.filter(platform=platform, reference__in=references)
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(EXISTING_REFERENCES_SQL, [sorted(references), platform.pk])
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return {}
        found = Redemption.objects.filter(pk__in=ids)
    return {r.reference: r for r in found.select_related("voucher").order_by()}


def _redeem_batch(
    *,
    actor: Actor,
    platform: ComputePlatform,
    items: Sequence[RedeemInput],
    evidence: dict[str, Any] | None,
) -> list[RedemptionResult | BusinessError]:
    results: list[RedemptionResult | BusinessError | None] = [None] * len(items)
    prepared: list[_Prepared] = []
    for index, raw in enumerate(items):
        try:
            prepared.append(_prepare(index, raw))
        except BusinessError as refusal:
            results[index] = refusal
    existing = _redemptions_by_reference(platform, {p.reference for p in prepared})
    locked = list(
        Voucher.objects.select_for_update(of=("self",))
        .annotate(
            platform_bound=Exists(
                Program.platforms.through.objects.filter(
                    program_id=OuterRef("program_id"), computeplatform_id=platform.pk
                )
            )
        )
        .filter(code__in={p.code for p in prepared})
        .order_by("pk")
    )
    # Each program once, with its schedule, shared by its vouchers: joined
    # to each voucher row (and the district and enterprise with it) it was
    # ~850 program instances and schedule prefetches per 1,000 records, and
    # 1,700 decryptions of the enterprises' encrypted fields.
    programs = (
        Program.objects.order_by()
        .prefetch_related("phase_steps")
        .in_bulk({v.program_id for v in locked})
    )
    vouchers: dict[str, Voucher] = {}
    for v in locked:
        v.program = programs[v.program_id]
        vouchers[v.code] = v
    # Each program's schedule sorted once, not once per record.
    schedules = {pk: steps_of(program) for pk, program in programs.items()}
    made: dict[str, tuple[str, Redemption]] = {}  # reference → (fingerprint, new redemption)
    writes = _BatchWrites(actor)
    dirty: dict[int, tuple[Voucher, set[str]]] = {}
    for item in prepared:
        try:
            results[item.index] = _redeem_one_in_batch(
                item,
                actor=actor,
                platform=platform,
                evidence=evidence,
                existing=existing,
                made=made,
                vouchers=vouchers,
                schedules=schedules,
                writes=writes,
                dirty=dirty,
            )
        except BusinessError as refusal:
            results[item.index] = refusal
    writes.flush()
    only_amounts = []
    for voucher, fields in dirty.values():
        if fields:
            voucher.save(update_fields=["balance", "held", *sorted(fields)])
        else:
            only_amounts.append(voucher)
    _save_amounts(only_amounts)
    # Results were built before the insert gave the rows their ids.
    return [
        RedemptionResult.of(r.redemption, code=r.voucher, unit=r.unit, replayed=r.replayed)
        if isinstance(r, RedemptionResult)
        else r
        for r in results
        if r is not None
    ]


def _redeem_one_in_batch(
    item: _Prepared,
    *,
    actor: Actor,
    platform: ComputePlatform,
    evidence: dict[str, Any] | None,
    existing: dict[str, Redemption],
    made: dict[str, tuple[str, Redemption]],
    vouchers: dict[str, Voucher],
    schedules: dict[int, list[Step]],
    writes: _BatchWrites,
    dirty: dict[int, tuple[Voucher, set[str]]],
) -> RedemptionResult:
    """One item of a batch, against the batch's locked vouchers (in memory)."""
    if item.reference in existing:
        old = existing[item.reference]
        if old.request_fingerprint != item.fingerprint:
            raise _reference_conflict()
        return RedemptionResult.of(old, code=old.voucher.code, unit=old.voucher.unit, replayed=True)
    if item.reference in made:
        fingerprint, twin = made[item.reference]
        if fingerprint != item.fingerprint:
            raise _reference_conflict()
        return RedemptionResult.of(
            twin, code=twin.voucher.code, unit=twin.voucher.unit, replayed=True
        )
    voucher = vouchers.get(item.code)
    if voucher is None:
        raise _not_found()
    fields = _check_usable(voucher, platform=platform, occurred_at=item.occurred_at, actor=actor)
    charge = _charge(
        voucher,
        occurred_at=item.occurred_at,
        billed_amount=item.item.billed_amount,
        points_used=item.item.points_used,
        steps=schedules.get(voucher.program_id),
    )
    allow_partial = bool(item.item.allow_partial)
    covered = _cover(charge, limit=voucher.available, allow_partial=allow_partial)
    redemption = _redemption(
        voucher,
        platform=platform,
        reference=item.reference,
        occurred_at=item.occurred_at,
        charge=charge,
        covered=covered,
        usage=item.lines,
        allow_partial=allow_partial,
        balance_after=voucher.available - covered,
        fingerprint=item.fingerprint,
        evidence=evidence,
    )
    made[item.reference] = (item.fingerprint, redemption)
    writes.redemptions.append(redemption)
    writes.entries.append(
        _entry(
            voucher,
            kind=LedgerEntry.Kind.CAPTURE,
            amount=covered,
            balance_change=-covered,
            actor=actor,
            platform=platform,
            redemption=redemption,
            evidence=evidence,
        )
    )
    if voucher.available == 0 and voucher.held == 0:
        # The voucher is about to be exhausted: its audit event must follow
        # the ledger entries that exhausted it, as it does for single charges.
        writes.flush()
    fields += _settle_status(voucher, actor=actor)
    _voucher, changed = dirty.setdefault(voucher.pk, (voucher, set()))
    changed.update(fields)
    return RedemptionResult.of(redemption, code=voucher.code, unit=voucher.unit, replayed=False)


# ---------------------------------------------------------------------------
# Holds
# ---------------------------------------------------------------------------


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
    reference = _reference(reference)
    code = voucher.code if voucher is not None else _code(voucher_code)
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
    checked = _amount(amount, unit=None, field_name="amount")
    fingerprint = _fingerprint(voucher=code, amount=checked, expires_in=expires_in)
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
        if not _is_reference_clash(exc):
            raise
        replay = _hold_replay(platform=platform, reference=reference, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay


_HOLD_BY_REFERENCE = _by_reference(Hold, "voucher")


def _hold_replay(
    *, platform: ComputePlatform, reference: str, fingerprint: str
) -> HoldResult | None:
    existing = _HOLD_BY_REFERENCE.one(platform_id=platform.pk, reference=reference)
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
    voucher = _locked_voucher(platform=platform, code=code)
    fields = _check_usable(voucher, platform=platform, occurred_at=None, actor=actor)
    _amount(amount, unit=voucher.unit, field_name="amount")
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
    _record(
        voucher,
        kind=LedgerEntry.Kind.HOLD,
        amount=amount,
        held_change=amount,
        actor=actor,
        platform=platform,
        hold=hold,
        evidence=evidence,
    )
    _save_voucher(voucher, fields)
    return _hold_result(hold, unit=voucher.unit, replayed=False)


def _locked_hold(*, platform: ComputePlatform | None, hold_id: Any) -> tuple[Voucher, Hold]:
    """Lock the voucher of a hold, then read the hold (holds change only
    under their voucher's lock)."""
    if isinstance(hold_id, bool) or not isinstance(hold_id, int):
        raise BusinessError(Code.HOLD_NOT_FOUND, _("No such hold."), "hold")
    holds = Hold.objects.filter(pk=hold_id)
    if platform is not None:
        holds = holds.filter(platform=platform)
    voucher_id = holds.values_list("voucher_id", flat=True).first()
    if voucher_id is None:
        raise BusinessError(Code.HOLD_NOT_FOUND, _("No such hold."), "hold")
    voucher = _locked_voucher(platform=platform, voucher_id=voucher_id)
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


def _release(
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
        _record(
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
    hold.status = status
    hold.closed_at = timezone.now()
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
    reference = _reference(reference)
    occurred_at = _occurred_at(occurred_at)
    lines = _usage_lines(usage)
    fingerprint = _fingerprint(
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
        if not _is_reference_clash(exc):
            raise
        replay = _redemption_replay(platform=platform, reference=reference, fingerprint=fingerprint)
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
    replay = _redemption_replay(platform=platform, reference=reference, fingerprint=fingerprint)
    if replay is not None:
        return replay
    voucher, hold = _locked_hold(platform=platform, hold_id=hold_id)
    _refuse_unless_open(hold)
    fields = _check_usable(voucher, platform=platform, occurred_at=occurred_at, actor=actor)
    charge = _charge(
        voucher, occurred_at=occurred_at, billed_amount=billed_amount, points_used=points_used
    )
    covered = _cover(charge, limit=hold.amount, allow_partial=allow_partial)
    # What is released becomes available again, what is covered leaves.
    balance_after = voucher.available + hold.amount - covered
    redemption = _redemption(
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
    _record(
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
    _release(
        voucher,
        hold,
        amount=hold.amount - covered,
        actor=actor,
        status=Hold.Status.CAPTURED,
        evidence=evidence,
        note=_("Rest of the hold after its capture."),
    )
    fields += _settle_status(voucher, actor=actor)
    _save_voucher(voucher, fields)
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
    _release(
        voucher,
        hold,
        amount=hold.amount,
        actor=actor,
        status=Hold.Status.RELEASED,
        evidence=request_evidence,
    )
    fields = _settle_status(voucher, actor=actor)
    _save_voucher(voucher, fields)
    result = _hold_result(hold, unit=voucher.unit, replayed=False)
    return replace(result, balance_after=voucher.available)


@transaction.atomic
def hold_expire(*, hold_id: int) -> bool:
    """Release one open hold past its expiry (the periodic task); idempotent."""
    actor = Actor.system("hold-expiry")
    voucher, hold = _locked_hold(platform=None, hold_id=hold_id)
    if hold.status != Hold.Status.OPEN or hold.expires_at > timezone.now():
        return False
    _release(
        voucher,
        hold,
        amount=hold.amount,
        actor=actor,
        status=Hold.Status.EXPIRED,
        evidence=None,
        note=_("Released at the hold's expiry."),
    )
    fields = _settle_status(voucher, actor=actor)
    _save_voucher(voucher, fields)
    return True


# ---------------------------------------------------------------------------
# Reversals
# ---------------------------------------------------------------------------


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
    reference = _reference(reference)
    checked = _amount(amount, unit=None, field_name="amount")
    if not isinstance(reason, str) or len(reason) > 2000:
        raise BusinessError(
            Code.VALIDATION_ERROR, _("The reason is text of at most 2000 characters."), "reason"
        )
    fingerprint = _fingerprint(redemption=redemption_id, amount=checked, reason=reason)
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
        if not _is_reference_clash(exc):
            raise
        replay = _reversal_replay(platform=platform, reference=reference, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay


_REVERSAL_BY_REFERENCE = _by_reference(Reversal, "redemption__voucher")


def _reversal_replay(
    *, platform: ComputePlatform, reference: str, fingerprint: str
) -> ReversalResult | None:
    existing = _REVERSAL_BY_REFERENCE.one(platform_id=platform.pk, reference=reference)
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
    voucher_id = (
        Redemption.objects.filter(pk=redemption_id, platform=platform)
        .values_list("voucher_id", flat=True)
        .first()
    )
    if voucher_id is None:
        raise not_found
    voucher = _locked_voucher(platform=None, voucher_id=voucher_id)
    redemption = Redemption.objects.get(pk=redemption_id)
    _amount(amount, unit=voucher.unit, field_name="amount")
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
    _record(
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
    redemption.reversed_amount += amount
    redemption.status = (
        Redemption.Status.REVERSED
        if redemption.reversed_amount == redemption.covered
        else Redemption.Status.PARTIALLY_REVERSED
    )
    redemption.save(update_fields=["reversed_amount", "status"])
    fields: list[str] = []
    if voucher.status == Voucher.Status.EXHAUSTED and voucher.is_expired():
        before = voucher.status
        _return_remainder(voucher, kind=LedgerEntry.Kind.EXPIRY, actor=actor)
        voucher.expire()
        _audit_transition(voucher, actor=actor, event_type=events.VOUCHER_EXPIRED, before=before)
        fields = ["status"]
    elif voucher.status in Voucher.FINISHED:
        # The voucher has ended: what comes back goes on to the program.
        kind = (
            LedgerEntry.Kind.EXPIRY
            if voucher.status == Voucher.Status.EXPIRED
            else LedgerEntry.Kind.REVOCATION
        )
        _return_remainder(voucher, kind=kind, actor=actor)
    else:
        fields = _settle_status(voucher, actor=actor)
    _save_voucher(voucher, fields)
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


# ---------------------------------------------------------------------------
# Lookup (the API's GET vouchers/{code})
# ---------------------------------------------------------------------------


def voucher_lookup(*, platform: ComputePlatform, voucher_code: str) -> VoucherView:
    """The voucher as a platform may see it: only when bound to it."""
    code = _code(voucher_code)
    vouchers = (
        Voucher.objects.select_related("program", "program__district", "enterprise")
        .annotate(
            platform_bound=Exists(
                Program.platforms.through.objects.filter(
                    program_id=OuterRef("program_id"), computeplatform_id=platform.pk
                )
            )
        )
        .filter(code=code)
    )
    voucher = _only(vouchers)
    if voucher is None:
        raise _not_found()
    if platform.status == ComputePlatform.Status.SUSPENDED:
        raise BusinessError(Code.PLATFORM_SUSPENDED, _("This platform is suspended."), None)
    if not (
        getattr(voucher, "platform_bound", False)
        or (voucher.program.cross_region and platform.on_national_list)
    ):
        raise BusinessError(
            Code.PLATFORM_NOT_BOUND, _("This voucher may not be used on this platform."), "voucher"
        )
    return VoucherView(
        voucher=voucher, rate_in_force=rate_in_force(voucher.program, on=timezone.now())
    )


# ---------------------------------------------------------------------------
# Issuance
# ---------------------------------------------------------------------------


def _start_of_day(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())


def voucher_expiry_for(program: Program, *, valid_from: datetime.datetime) -> datetime.datetime:
    """When a voucher of ``program`` valid from ``valid_from`` expires: the
    program's fixed end date or its validity in days (from the Asia/Shanghai
    day of valid-from), never past the program's exit date."""
    first_day = timezone.localtime(valid_from).date()
    if program.voucher_valid_until is not None:
        end = program.voucher_valid_until + datetime.timedelta(days=1)
    elif program.voucher_validity_days:
        end = first_day + datetime.timedelta(days=program.voucher_validity_days)
    else:
        end = first_day + datetime.timedelta(days=DEFAULT_VALIDITY_DAYS)
    exit_on = exit_date(steps_of(program))
    if exit_on is not None:
        end = min(end, exit_on)
    return _start_of_day(end)


@transaction.atomic
def voucher_issue(
    *,
    actor: Actor,
    program: Program,
    enterprise: Enterprise,
    amount: Decimal,
    from_reservation: bool,
    valid_from: datetime.datetime | None = None,
    application: Application | None = None,
) -> Voucher:
    """Issue a voucher of ``amount`` to ``enterprise`` from ``program``.

    ``application`` is the approved application the voucher answers (one
    voucher per application). With ``from_reservation`` (an approved application) the amount moves
    from the program's reserved to its issued counter; otherwise (bulk
    issuance) it must fit in what remains of the budget and of the
    enterprise's cap. The voucher is active at once when ``valid_from`` is
    now or past.
    """
    program = Program.objects.select_for_update().select_related("district").get(pk=program.pk)
    amount = _amount(amount, unit=program.unit, field_name="amount")
    conflict = duties_conflict(user=actor.user, enterprise_id=enterprise.pk)
    if conflict is not None:
        raise PermissionDenied(conflict)
    allowed = [Program.Status.OPEN] + ([Program.Status.PAUSED] if from_reservation else [])
    if program.status not in allowed:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("Vouchers cannot be issued from a program that is %(status)s.")
            % {"status": program.get_status_display().lower()},
            "program",
        )
    if enterprise.status == Enterprise.Status.SUSPENDED:
        raise BusinessError(Code.VALIDATION_ERROR, _("This enterprise is suspended."), "enterprise")
    if from_reservation:
        if amount > program.reserved_amount:
            raise BusinessError(
                Code.VALIDATION_ERROR,
                _("Only %(reserved)s is reserved in this program.")
                % {"reserved": format_amount(program.reserved_amount, program.unit)},
                "amount",
            )
        program.reserved_amount -= amount
    else:
        if amount > program.remaining_amount:
            raise BusinessError(
                Code.VALIDATION_ERROR,
                _("Only %(remaining)s of the program's budget remains.")
                % {"remaining": format_amount(program.remaining_amount, program.unit)},
                "amount",
            )
        refusal = amount_refusal(program=program, enterprise_id=enterprise.pk, amount=amount)
        if refusal is not None:
            raise BusinessError(Code.VALIDATION_ERROR, refusal, "amount")
    program.issued_amount += amount
    now = timezone.now()
    start = valid_from or now
    expires_at = voucher_expiry_for(program, valid_from=start)
    if expires_at <= max(start, now):
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _(
                "A voucher of this program would already have expired (its validity or exit date has passed)."
            ),
            "valid_from",
        )
    voucher = Voucher.objects.create(
        code=generate_code(),
        program=program,
        enterprise=enterprise,
        unit=program.unit,
        face_value=amount,
        balance=Decimal("0"),
        valid_from=start,
        expires_at=expires_at,
        issued_by=actor.label[:200],
        application=application,
    )
    program.save(update_fields=["reserved_amount", "issued_amount"])
    _record(voucher, kind=LedgerEntry.Kind.ISSUE, amount=amount, balance_change=amount, actor=actor)
    audit_record(
        actor=actor,
        event_type=events.VOUCHER_ISSUED,
        obj=voucher,
        after={
            "code": voucher.code,
            "program": program.pk,
            "face_value": str(amount),
            "unit": voucher.unit,
            "valid_from": voucher.valid_from.isoformat(),
            "expires_at": voucher.expires_at.isoformat(),
            "from_reservation": from_reservation,
            "application": application.pk if application else None,
        },
        district_id=program.district_id,
        enterprise_id=enterprise.pk,
    )
    fields = _activate_if_due(voucher, actor=actor)
    _save_voucher(voucher, fields)
    # The enterprise learns its code and gets the certificate link, after commit.
    notify_voucher_issued(voucher=voucher)
    return voucher


@dataclass
class BulkRow:
    """One line of a bulk issuance file and what became of it."""

    line: int
    uscc: str
    amount_text: str
    amount: Decimal | None = None
    enterprise: Enterprise | None = None
    errors: list[str] = field(default_factory=list)
    voucher: Voucher | None = None
    # The program's rule set for this enterprise, line by line (the preview's explanation).
    decision: Decision | None = None
    # Above the program's four-eyes threshold: a second official must confirm.
    needs_second_approval: bool = False


@dataclass
class BulkReport:
    """The outcome of a bulk issuance: every row, and whether anything was
    issued or the batch waits for a second official (``batch``)."""

    rows: list[BulkRow]
    errors: list[str]
    issued: bool
    total: Decimal
    batch: BulkIssuance | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and not any(r.errors for r in self.rows)

    @property
    def needs_second_approval(self) -> bool:
        return any(r.needs_second_approval for r in self.rows)

    @property
    def awaiting_second_approval(self) -> bool:
        return (
            self.batch is not None
            and self.batch.status == BulkIssuance.Status.AWAITING_SECOND_APPROVAL
        )


def _parse_bulk(
    program: Program, csv_text: str, *, user: Any = None, threshold: Decimal | None = None
) -> BulkReport:
    """Read and check a file: its format, then every row against what an
    application goes through (:mod:`vouchers.grants`), as ``user`` would
    issue it, with ``threshold`` the four-eyes threshold that binds it."""
    rows: list[BulkRow] = []
    errors: list[str] = []
    reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff")))
    for number, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue
        if number == 1 and cells and cells[0].strip().lower() in {"uscc", "统一社会信用代码"}:
            continue
        uscc = cells[0].strip().upper() if cells else ""
        amount_text = cells[1].strip() if len(cells) > 1 else ""
        row = BulkRow(line=number, uscc=uscc, amount_text=amount_text)
        if len(cells) != 2:
            row.errors.append(_("Each line needs exactly two columns: USCC, amount."))
        rows.append(row)
    if not rows:
        errors.append(_("The file has no rows."))
    if len(rows) > BULK_MAX_ROWS:
        errors.append(_("At most %(n)d rows per file.") % {"n": BULK_MAX_ROWS})
        return BulkReport(rows=[], errors=errors, issued=False, total=Decimal("0"))
    enterprises = {e.uscc: e for e in Enterprise.objects.filter(uscc__in=[r.uscc for r in rows])}
    seen: dict[str, int] = {}
    for row in rows:
        if row.errors:
            continue
        problem = uscc_problem(row.uscc)
        if problem:
            row.errors.append(problem)
        else:
            row.enterprise = enterprises.get(row.uscc)
            if row.enterprise is None:
                row.errors.append(_("No registered enterprise has this USCC."))
        if row.uscc in seen:
            row.errors.append(
                _("This USCC is already on line %(line)d.") % {"line": seen[row.uscc]}
            )
        seen.setdefault(row.uscc, row.line)
        try:
            row.amount = _amount(Decimal(row.amount_text), unit=program.unit, field_name="amount")
        except (InvalidOperation, ValueError):
            row.errors.append(_("“%(text)s” is not an amount.") % {"text": row.amount_text})
        except BusinessError as exc:
            row.errors.append(str(exc.message))
        if row.enterprise is not None:
            # The same checks an application goes through, in the same words.
            check = enterprise_refusals(program=program, enterprise=row.enterprise, user=user)
            row.decision = check.decision
            row.errors.extend(check.refusals)
            if row.amount is not None:
                refusal = amount_refusal(
                    program=program, enterprise_id=row.enterprise.pk, amount=row.amount
                )
                if refusal is not None:
                    row.errors.append(refusal)
        if row.amount is not None and threshold is not None and row.enterprise is not None:
            # With what the enterprise already holds from the program, as for
            # an application: no splitting a grant into pieces under the threshold.
            already = granted_to(program=program, enterprise_id=row.enterprise.pk)
            row.needs_second_approval = row.amount + already > threshold
    total = sum((r.amount or Decimal("0") for r in rows), Decimal("0"))
    if total > program.remaining_amount:
        errors.append(
            _("The file asks for %(total)s but only %(remaining)s of the budget remains.")
            % {
                "total": format_amount(total, program.unit),
                "remaining": format_amount(program.remaining_amount, program.unit),
            }
        )
    if program.status != Program.Status.OPEN:
        errors.append(_("Vouchers can be issued only from an open program."))
    return BulkReport(rows=rows, errors=errors, issued=False, total=total)


def _batch_csv(batch: BulkIssuance) -> str:
    """The batch's rows as the file they came from (checked again on confirmation)."""
    return "".join(f"{row['uscc']},{row['amount']}\n" for row in batch.rows)


def _issue_rows(
    *, actor: Actor, program: Program, report: BulkReport, batch: BulkIssuance
) -> BulkReport:
    for row in report.rows:
        if row.enterprise is None or row.amount is None:  # pragma: no cover (validated)
            continue
        row.voucher = voucher_issue(
            actor=actor,
            program=program,
            enterprise=row.enterprise,
            amount=row.amount,
            from_reservation=False,
        )
    report.issued = True
    report.batch = batch
    audit_record(
        actor=actor,
        event_type=events.VOUCHERS_BULK_ISSUED,
        obj=program,
        after={"count": len(report.rows), "total": str(report.total), "batch": batch.pk},
        district_id=program.district_id,
    )
    return report


def _batch_event(batch: BulkIssuance, *, actor: Actor, event_type: str, note: str = "") -> None:
    audit_record(
        actor=actor,
        event_type=event_type,
        obj=batch,
        before=None
        if event_type == events.BULK_ISSUANCE_PROPOSED
        else {"status": BulkIssuance.Status.AWAITING_SECOND_APPROVAL},
        after={
            "status": batch.status,
            "program": batch.program_id,
            "count": len(batch.rows),
            "total": str(batch.total),
            "four_eyes_threshold": (
                str(batch.four_eyes_threshold) if batch.four_eyes_threshold is not None else None
            ),
        },
        district_id=batch.program.district_id,
        note=note,
    )


@transaction.atomic
def voucher_bulk_issue(
    *, actor: Actor, program: Program, csv_text: str, dry_run: bool = False
) -> BulkReport:
    """Issue vouchers from a CSV of ``USCC,amount`` lines, all or nothing.

    The whole file is checked first: format, USCC check character, known
    enterprise, duplicates, and everything an application goes through —
    separation of duties, verified enterprise, registered in the district
    (unless the program is nationwide), the program's rule set, the
    per-enterprise cap with what the enterprise already holds, the
    remaining budget. When any row is wrong nothing is issued and the
    report says what is wrong with each row. When any row is above the
    program's four-eyes threshold, nothing is issued either: the batch is
    recorded and waits for a second, different official
    (:func:`bulk_issuance_confirm`).
    """
    program = Program.objects.select_for_update().select_related("district").get(pk=program.pk)
    threshold = program.four_eyes_threshold
    report = _parse_bulk(program, csv_text, user=actor.user, threshold=threshold)
    if not report.ok or dry_run:
        return report
    rows = [
        {
            "line": row.line,
            "uscc": row.uscc,
            "enterprise_id": row.enterprise.pk,
            "amount": str(row.amount),
        }
        for row in report.rows
        if row.enterprise is not None and row.amount is not None
    ]
    now = timezone.now()
    if report.needs_second_approval:
        batch = BulkIssuance.objects.create(
            program=program,
            rows=rows,
            total=report.total,
            four_eyes_threshold=threshold,
            created_by=actor.user,
        )
        _batch_event(batch, actor=actor, event_type=events.BULK_ISSUANCE_PROPOSED)
        report.batch = batch
        return report
    batch = BulkIssuance.objects.create(
        program=program,
        rows=rows,
        total=report.total,
        four_eyes_threshold=threshold,
        created_by=actor.user,
        status=BulkIssuance.Status.ISSUED,
        decided_by=actor.user,
        decided_at=now,
    )
    return _issue_rows(actor=actor, program=program, report=report, batch=batch)


BULK_DECISIONS = {"confirm": "confirm", "cancel": "cancel"}


def bulk_issuance_refusal(*, batch: BulkIssuance, user: Any, action: str) -> str | None:
    """Why ``user`` may not ``action`` ("confirm" or "cancel") ``batch`` now,
    or None when they may. The admin offers only what has no refusal; the
    services ask the same question."""
    for enterprise_id in batch.enterprise_ids():
        conflict = duties_conflict(user=user, enterprise_id=enterprise_id)
        if conflict is not None:
            return conflict
    method = getattr(batch, BULK_DECISIONS[action])
    if not can_proceed(method, check_conditions=False):
        return _("This batch is no longer waiting: %(status)s.") % {
            "status": batch.get_status_display().lower()
        }
    if not has_transition_perm(method, user):
        if action == "confirm" and user is not None and user.pk == batch.created_by_id:
            return _("A second, different official must confirm this batch: you uploaded it.")
        return _("Only a program manager of the program's district may do this.")
    return None


def _bulk_decision_checks(*, batch: BulkIssuance, actor: Actor, action: str) -> None:
    refusal = bulk_issuance_refusal(batch=batch, user=actor.user, action=action)
    if refusal is None:
        return
    if batch.status != BulkIssuance.Status.AWAITING_SECOND_APPROVAL:
        raise BusinessError(Code.VALIDATION_ERROR, refusal, None)
    raise PermissionDenied(refusal)


def _locked_batch(batch: BulkIssuance) -> BulkIssuance:
    return (
        BulkIssuance.objects.select_for_update(of=("self",))
        .select_related("program__district")
        .get(pk=batch.pk)
    )


@transaction.atomic
def bulk_issuance_confirm(*, actor: Actor, batch: BulkIssuance, note: str = "") -> BulkReport:
    """A second, different official confirms a batch waiting for four eyes:
    every row is checked again as it stands now, then every voucher is
    issued (or, when a row fails now, nothing and the batch keeps waiting)."""
    batch = _locked_batch(batch)
    _bulk_decision_checks(batch=batch, actor=actor, action="confirm")
    program = (
        Program.objects.select_for_update().select_related("district").get(pk=batch.program_id)
    )
    # The batch was already found to need four eyes: no threshold again.
    report = _parse_bulk(program, _batch_csv(batch), user=actor.user)
    if not report.ok:
        problems = [*report.errors] + [
            _("line %(line)d: %(errors)s") % {"line": row.line, "errors": " ".join(row.errors)}
            for row in report.rows
            if row.errors
        ]
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("Nothing was issued; the batch no longer passes its checks: %(problems)s")
            % {"problems": "; ".join(problems)},
            None,
        )
    batch.confirm(by=actor.user, at=timezone.now(), note=(note or "").strip())
    batch.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _batch_event(
        batch, actor=actor, event_type=events.BULK_ISSUANCE_CONFIRMED, note=batch.decision_note
    )
    return _issue_rows(actor=actor, program=program, report=report, batch=batch)


@transaction.atomic
def bulk_issuance_cancel(*, actor: Actor, batch: BulkIssuance, note: str) -> BulkIssuance:
    """Drop a batch waiting for a second official, with a note; nothing is issued."""
    batch = _locked_batch(batch)
    _bulk_decision_checks(batch=batch, actor=actor, action="cancel")
    note = (note or "").strip()
    if not note:
        raise BusinessError(Code.VALIDATION_ERROR, _("Please give a reason."), "note")
    batch.cancel(by=actor.user, at=timezone.now(), note=note)
    batch.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _batch_event(batch, actor=actor, event_type=events.BULK_ISSUANCE_CANCELLED, note=note)
    return batch


# ---------------------------------------------------------------------------
# Lifecycle: activation, expiry, officials' actions, clawback
# ---------------------------------------------------------------------------


@transaction.atomic
def voucher_activate(*, voucher_id: int) -> bool:
    """Activate an issued voucher whose valid-from has come; idempotent."""
    voucher = _locked_voucher(platform=None, voucher_id=voucher_id)
    fields = _activate_if_due(voucher, actor=Actor.system("voucher-activation"))
    if fields:
        voucher.save(update_fields=fields)
    return bool(fields)


def _program_return(program: Program, amount: Decimal) -> None:
    """Add ``amount`` to the program's returned counter (an atomic row update)."""
    Program.objects.filter(pk=program.pk).update(returned_amount=F("returned_amount") + amount)
    program.returned_amount += amount


def _return_remainder(voucher: Voucher, *, kind: str, actor: Actor, note: str = "") -> Decimal:
    """Take what is left on the voucher back into the program's budget."""
    remainder = voucher.balance
    if remainder > 0:
        _program_return(voucher.program, remainder)
        _record(
            voucher,
            kind=kind,
            amount=remainder,
            balance_change=-remainder,
            program_return=remainder,
            actor=actor,
            note=note,
        )
    return remainder


def _release_open_holds(voucher: Voucher, *, actor: Actor, note: str) -> None:
    for hold in voucher.holds.filter(status=Hold.Status.OPEN).select_related("platform"):
        _release(
            voucher,
            hold,
            amount=hold.amount,
            actor=actor,
            status=Hold.Status.EXPIRED,
            evidence=None,
            note=note,
        )


@transaction.atomic
def voucher_expire(*, voucher_id: int) -> bool:
    """Expire a voucher at its expiry: release its holds and return the
    remainder to the program's budget; idempotent."""
    actor = Actor.system("voucher-expiry")
    voucher = _locked_voucher(platform=None, voucher_id=voucher_id)
    if voucher.status not in Voucher.OPEN or not voucher.is_expired():
        return False
    before = voucher.status
    _release_open_holds(voucher, actor=actor, note=_("Released because the voucher expired."))
    _return_remainder(voucher, kind=LedgerEntry.Kind.EXPIRY, actor=actor)
    voucher.expire()
    voucher.save(update_fields=["balance", "held", "status"])
    _audit_transition(voucher, actor=actor, event_type=events.VOUCHER_EXPIRED, before=before)
    return True


OFFICIAL_ACTIONS = {
    "suspend": ("suspend", "vouchers.suspend_voucher"),
    "resume": ("resume", "vouchers.suspend_voucher"),
    "revoke": ("revoke", "vouchers.revoke_voucher"),
    "clawback": ("claw_back", "vouchers.clawback_voucher"),
}


def voucher_action_refusal(*, voucher: Voucher, user: Any, action: str) -> str | None:
    """Why ``user`` may not take ``action`` on ``voucher`` now, or None when
    they may. The admin offers only actions with no refusal; the services
    ask the same question."""
    method_name, perm = OFFICIAL_ACTIONS[action]
    method = getattr(voucher, method_name)
    conflict = duties_conflict(user=user, enterprise_id=voucher.enterprise_id)
    if conflict is not None:
        return conflict
    if not official_may(perm)(voucher, user):
        return _("Only a program manager of the voucher's district may do this.")
    if not can_proceed(method, check_conditions=False):
        return _("Not possible while the voucher is %(status)s.") % {
            "status": voucher.get_status_display().lower()
        }
    if action == "resume" and voucher.is_expired():
        return _("The voucher's validity has ended.")
    if action == "clawback" and _net_covered(voucher) <= 0:
        return _("Nothing was covered by this voucher, so there is nothing to claw back.")
    # Open holds do not stand in the way: revocation and clawback release
    # them first (the transitions' own conditions are checked when they run).
    return None


def _net_covered(voucher: Voucher) -> Decimal:
    totals = voucher.redemptions.aggregate(covered=Sum("covered"), reversed=Sum("reversed_amount"))
    return (totals["covered"] or Decimal("0")) - (totals["reversed"] or Decimal("0"))


def _official_checks(voucher: Voucher, *, actor: Actor, action: str, reason: str) -> str:
    refusal = voucher_action_refusal(voucher=voucher, user=actor.user, action=action)
    if refusal is not None:
        if not official_may(OFFICIAL_ACTIONS[action][1])(voucher, actor.user):
            raise PermissionDenied(refusal)
        raise BusinessError(Code.VALIDATION_ERROR, refusal, None)
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError(Code.VALIDATION_ERROR, _("Please give a reason."), "reason")
    return reason


@transaction.atomic
def voucher_suspend(*, actor: Actor, voucher: Voucher, reason: str) -> Voucher:
    """Suspend an active voucher (an official, with a reason)."""
    voucher = _locked_voucher(platform=None, voucher_id=voucher.pk)
    reason = _official_checks(voucher, actor=actor, action="suspend", reason=reason)
    before = voucher.status
    voucher.suspend(reason=reason)
    voucher.save(update_fields=["status", "status_reason"])
    _audit_transition(
        voucher, actor=actor, event_type=events.VOUCHER_SUSPENDED, before=before, note=reason
    )
    return voucher


@transaction.atomic
def voucher_resume(*, actor: Actor, voucher: Voucher, reason: str) -> Voucher:
    """Make a suspended voucher active again (an official, with a reason)."""
    voucher = _locked_voucher(platform=None, voucher_id=voucher.pk)
    reason = _official_checks(voucher, actor=actor, action="resume", reason=reason)
    before = voucher.status
    voucher.resume(reason=reason)
    fields = ["status", "status_reason"]
    fields += _settle_status(voucher, actor=actor)
    voucher.save(update_fields=list(dict.fromkeys(fields)))
    _audit_transition(
        voucher, actor=actor, event_type=events.VOUCHER_RESUMED, before=before, note=reason
    )
    return voucher


@transaction.atomic
def voucher_revoke(*, actor: Actor, voucher: Voucher, reason: str) -> Voucher:
    """Revoke a voucher (an official, with a reason): open holds are released
    and the remainder returns to the program's budget."""
    voucher = _locked_voucher(platform=None, voucher_id=voucher.pk)
    reason = _official_checks(voucher, actor=actor, action="revoke", reason=reason)
    before = voucher.status
    _release_open_holds(voucher, actor=actor, note=_("Released because the voucher was revoked."))
    _return_remainder(voucher, kind=LedgerEntry.Kind.REVOCATION, actor=actor, note=reason)
    voucher.revoke(reason=reason)
    voucher.save(update_fields=["balance", "held", "status", "status_reason"])
    _audit_transition(
        voucher, actor=actor, event_type=events.VOUCHER_REVOKED, before=before, note=reason
    )
    return voucher


@transaction.atomic
def voucher_claw_back(
    *, actor: Actor, voucher: Voucher, reason: str, amount: Decimal | None = None
) -> Receivable:
    """Recover covered amounts after a breached obligation.

    The voucher ends (holds released, remainder returned); the recovered
    amount (by default everything covered, net of reversals) goes back to
    the program's budget as a clawback ledger entry, and a receivable is
    raised against the enterprise.
    """
    voucher = _locked_voucher(platform=None, voucher_id=voucher.pk)
    reason = _official_checks(voucher, actor=actor, action="clawback", reason=reason)
    net = _net_covered(voucher)
    recovered = net if amount is None else _amount(amount, unit=voucher.unit, field_name="amount")
    if recovered > net:
        raise BusinessError(
            Code.VALIDATION_ERROR,
            _("At most %(net)s was covered by this voucher.")
            % {"net": format_amount(net, voucher.unit)},
            "amount",
        )
    before = voucher.status
    _release_open_holds(voucher, actor=actor, note=_("Released because of a clawback."))
    _return_remainder(voucher, kind=LedgerEntry.Kind.REVOCATION, actor=actor, note=reason)
    program = voucher.program
    _program_return(program, recovered)
    _record(
        voucher,
        kind=LedgerEntry.Kind.CLAWBACK,
        amount=recovered,
        program_return=recovered,
        actor=actor,
        note=reason,
    )
    voucher.claw_back(reason=reason)
    voucher.save(update_fields=["balance", "held", "status", "status_reason"])
    _audit_transition(
        voucher, actor=actor, event_type=events.VOUCHER_CLAWED_BACK, before=before, note=reason
    )
    receivable = Receivable.objects.create(
        voucher=voucher,
        enterprise_id=voucher.enterprise_id,
        program=program,
        amount=recovered,
        unit=voucher.unit,
        reason=reason,
        created_by=actor.label[:200],
    )
    audit_record(
        actor=actor,
        event_type=events.RECEIVABLE_CREATED,
        obj=receivable,
        after={"voucher": voucher.code, "amount": str(recovered), "unit": voucher.unit},
        district_id=program.district_id,
        enterprise_id=voucher.enterprise_id,
        note=reason,
    )
    return receivable


# Re-exported for callers that filter by the same predicate as the services.
__all__ = [
    "BulkReport",
    "BulkRow",
    "HoldResult",
    "RedemptionResult",
    "ReversalResult",
    "VoucherView",
    "bulk_issuance_cancel",
    "bulk_issuance_confirm",
    "bulk_issuance_refusal",
    "format_amount",
    "hold_capture",
    "hold_create",
    "hold_expire",
    "hold_release",
    "redemption_reverse",
    "voucher_action_refusal",
    "voucher_activate",
    "voucher_bulk_issue",
    "voucher_claw_back",
    "voucher_expire",
    "voucher_expiry_for",
    "voucher_issue",
    "voucher_lookup",
    "voucher_redeem",
    "voucher_resume",
    "voucher_revoke",
    "voucher_suspend",
]
