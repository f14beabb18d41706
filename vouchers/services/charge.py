"""Charges: one redemption now (:func:`voucher_redeem`, POST redemptions) and
many at once (:func:`voucher_redeem_batch`, a usage batch).

Both judge and write each charge with the one function :func:`_charge_voucher`
against a voucher locked by the one lock of :mod:`vouchers.queries`. They
differ only in how they lock (one voucher, or every voucher of the batch at
once in id order) and how they write (each row as it is decided, or every
row of the batch in bulk at the end).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.db import IntegrityError, transaction

from accounts.models import ComputePlatform
from audit.services import Actor
from common.bulk import insert_one
from common.errors import BusinessError
from programs.models import Program
from programs.phasedown import Step, steps_of
from vouchers import queries
from vouchers.models import LedgerEntry, Redemption, Voucher
from vouchers.services.batch_writes import BatchWrites, Charged
from vouchers.services.coverage import (
    Charge,
    VoucherFacts,
    charge_of,
    check_usable,
    covered_of,
    new_redemption,
    redemption_replay,
    refuse_unless_replay,
    replayed_redemption,
)
from vouchers.services.inputs import (
    checked_code,
    checked_occurred_at,
    checked_reference,
    fingerprint_of,
    is_reference_clash,
    usage_lines,
    voucher_not_found,
)
from vouchers.services.ledger_writes import (
    ledger_entry,
    locked_voucher,
    save_voucher,
    settle_status,
    write_entry,
)
from vouchers.services.responses import RedemptionResult


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


@dataclass(frozen=True)
class _Order:
    """A charge's inputs, checked, with the fingerprint that tells a replay."""

    reference: str
    occurred_at: datetime.datetime
    code: str
    billed_amount: Any
    points_used: Any
    lines: list[dict[str, Any]]
    allow_partial: bool
    fingerprint: str


def _order(item: RedeemInput, *, voucher: Voucher | None = None) -> _Order:
    """Check a charge's inputs (``voucher``, when given, stands for the code)."""
    reference = checked_reference(item.reference)
    occurred_at = checked_occurred_at(item.occurred_at)
    code = voucher.code if voucher is not None else checked_code(item.voucher_code)
    lines = usage_lines(item.usage)
    allow_partial = bool(item.allow_partial)
    fingerprint = fingerprint_of(
        voucher=code,
        occurred_at=occurred_at,
        billed_amount=item.billed_amount,
        points_used=item.points_used,
        usage=lines,
        allow_partial=allow_partial,
    )
    return _Order(
        reference=reference,
        occurred_at=occurred_at,
        code=code,
        billed_amount=item.billed_amount,
        points_used=item.points_used,
        lines=lines,
        allow_partial=allow_partial,
        fingerprint=fingerprint,
    )


class _Writes(Protocol):
    """Where a charge's rows go: :class:`_WriteNow` or
    :class:`vouchers.services.batch_writes.BatchWrites`."""

    def charge(
        self, voucher: Voucher, order: _Order, *, charge: Charge, covered: Decimal
    ) -> Redemption | Charged: ...

    def flush(self) -> None: ...


class _WriteNow:
    """A single charge's writes: the redemption and its ledger entry inserted
    as they are decided, with the entry's own audit event."""

    def __init__(
        self, actor: Actor, platform: ComputePlatform, evidence: dict[str, Any] | None
    ) -> None:
        self.actor = actor
        self.platform = platform
        self.evidence = evidence

    def charge(self, voucher: Voucher, order: _Order, *, charge: Charge, covered: Decimal) -> Any:
        redemption = new_redemption(
            voucher,
            platform=self.platform,
            reference=order.reference,
            occurred_at=order.occurred_at,
            charge=charge,
            covered=covered,
            usage=order.lines,
            allow_partial=order.allow_partial,
            balance_after=voucher.available - covered,
            fingerprint=order.fingerprint,
            evidence=self.evidence,
        )
        insert_one(redemption)
        write_entry(
            ledger_entry(
                voucher,
                kind=LedgerEntry.Kind.CAPTURE,
                amount=covered,
                balance_change=-covered,
                actor=self.actor,
                platform=self.platform,
                redemption=redemption,
                evidence=self.evidence,
            ),
            actor=self.actor,
        )
        return redemption

    def flush(self) -> None:
        """Nothing waits: every row is already written."""


def _charge_voucher(
    voucher: Voucher,
    order: _Order,
    *,
    actor: Actor,
    platform: ComputePlatform,
    writes: _Writes,
    steps: Sequence[Step] | None = None,
    charge: Charge | BusinessError | None = None,
    now: datetime.datetime | None = None,
) -> tuple[Any, list[str]]:
    """Judge one charge against a locked voucher and write it (``writes``): the
    redemption and its ledger entry (the voucher's amounts change in memory),
    and the status that follows. Returns the redemption (or the batch's row
    standing for it) and the voucher's fields to save besides its amounts;
    the caller saves the voucher.

    ``steps``: the program's schedule when the caller has it already.
    ``charge``: what :func:`charge_of` gave (or raised) for this order when
    the caller worked it out before locking the voucher — it depends only on
    the voucher's program and unit, which never change; it is used (or
    raised) here in its usual place, after the voucher's own checks.
    ``now``: the time the charge is judged at (by default the current time)."""
    fields = check_usable(
        voucher, platform=platform, occurred_at=order.occurred_at, actor=actor, now=now
    )
    if isinstance(charge, BusinessError):
        raise charge
    if charge is None:
        charge = _charge_of(voucher, order, steps)
    covered = covered_of(charge, limit=voucher.available, allow_partial=order.allow_partial)
    redemption = writes.charge(voucher, order, charge=charge, covered=covered)
    if voucher.available == 0 and voucher.held == 0:
        # The voucher is about to be exhausted: its audit event must follow
        # the ledger entries that exhausted it.
        writes.flush()
    fields += settle_status(voucher, actor=actor)
    return redemption, fields


def _charge_of(
    voucher: Voucher | VoucherFacts, order: _Order, steps: Sequence[Step] | None
) -> Charge:
    return charge_of(
        voucher,
        occurred_at=order.occurred_at,
        billed_amount=order.billed_amount,
        points_used=order.points_used,
        steps=steps,
    )


# ---------------------------------------------------------------------------
# One charge
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
    item = RedeemInput(
        reference=reference,
        occurred_at=occurred_at,
        voucher_code=voucher_code,
        billed_amount=billed_amount,
        points_used=points_used,
        usage=usage,
        allow_partial=allow_partial,
    )
    order = _order(item, voucher=voucher)
    return _redeem_order(actor=actor, platform=platform, order=order, evidence=request_evidence)


def _redeem_order(
    *, actor: Actor, platform: ComputePlatform, order: _Order, evidence: dict[str, Any] | None
) -> RedemptionResult:
    try:
        return _redeem(actor=actor, platform=platform, order=order, evidence=evidence)
    except IntegrityError as exc:
        # A concurrent request took the reference between our look-up and
        # our insert: answer as if it had come first.
        if not is_reference_clash(exc):
            raise
        replay = redemption_replay(
            platform=platform, reference=order.reference, fingerprint=order.fingerprint
        )
        if replay is None:
            raise
        return replay


@transaction.atomic
def _redeem(
    *, actor: Actor, platform: ComputePlatform, order: _Order, evidence: dict[str, Any] | None
) -> RedemptionResult:
    replay = redemption_replay(
        platform=platform, reference=order.reference, fingerprint=order.fingerprint
    )
    if replay is not None:
        return replay
    voucher = locked_voucher(platform=platform, code=order.code)
    redemption, fields = _charge_voucher(
        voucher, order, actor=actor, platform=platform, writes=_WriteNow(actor, platform, evidence)
    )
    save_voucher(voucher, fields)
    return RedemptionResult.of(redemption, code=voucher.code, unit=voucher.unit, replayed=False)


# ---------------------------------------------------------------------------
# A usage batch
# ---------------------------------------------------------------------------


def voucher_redeem_batch(
    *,
    actor: Actor,
    platform: ComputePlatform,
    items: Sequence[RedeemInput],
    request_evidence: dict[str, Any] | None = None,
    request_reference: dict[str, Any] | None = None,
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

    ``request_evidence`` (the signed request's) goes with the audit event
    that commits the batch's ledger entries; each redemption keeps
    ``request_reference`` — what names the request, kept once elsewhere —
    or, without one, the whole evidence.
    """
    try:
        with transaction.atomic():
            return _redeem_batch(
                actor=actor,
                platform=platform,
                items=items,
                evidence=request_evidence,
                request_reference=request_reference,
            )
    except IntegrityError as exc:
        if not is_reference_clash(exc):
            raise
    results: list[RedemptionResult | BusinessError] = []
    for item in items:
        try:
            order = _order(item)
            results.append(
                _redeem_order(
                    actor=actor, platform=platform, order=order, evidence=request_evidence
                )
            )
        except BusinessError as refusal:
            results.append(refusal)
    return results


def _redeem_batch(
    *,
    actor: Actor,
    platform: ComputePlatform,
    items: Sequence[RedeemInput],
    evidence: dict[str, Any] | None,
    request_reference: dict[str, Any] | None,
) -> list[RedemptionResult | BusinessError]:
    # A charge of this batch (new, or replayed by a later item) holds its
    # place as (row, replayed) until the batch is written and the row has its id.
    results: list[RedemptionResult | BusinessError | tuple[Charged, bool] | None]
    results = [None] * len(items)
    orders: list[tuple[int, _Order]] = []
    for index, item in enumerate(items):
        try:
            orders.append((index, _order(item)))
        except BusinessError as refusal:
            results[index] = refusal
    # The stored charges under the batch's references; each new charge joins
    # them, so that a later item with its reference is its replay.
    known = queries.redemptions_by_reference(
        platform_id=platform.pk, references={order.reference for _index, order in orders}
    )
    codes = {order.code for _index, order in orders}
    # Everything that does not depend on the vouchers' amounts is read before
    # they are locked: concurrent batches that share vouchers wait for each
    # other from the lock to COMMIT, so that part is kept to what needs it.
    # Each program once, with its schedule, shared by its vouchers (a
    # voucher's program never changes): joined to each voucher row (and the
    # district and enterprise with it) it was ~850 program instances and
    # schedule prefetches per 1,000 records, and 1,700 decryptions of the
    # enterprises' encrypted fields.
    facts = queries.program_and_unit_of_codes(codes)
    programs = (
        Program.objects.order_by()
        .prefetch_related("phase_steps")
        .in_bulk({program_id for program_id, _unit in facts.values()})
    )
    # Each program's schedule sorted once, not once per record.
    schedules = {pk: steps_of(program) for pk, program in programs.items()}
    # What each new charge asks for (the bill × the rate in force on its
    # usage date, or its points) depends on the voucher's program and unit
    # only: it is worked out before the lock too.
    charges: dict[int, Charge | BusinessError] = {}
    for index, order in orders:
        fact = facts.get(order.code)
        if fact is None or order.reference in known:
            continue
        program = programs[fact[0]]
        try:
            charges[index] = _charge_of(
                VoucherFacts(program, fact[1]), order, schedules.get(program.pk)
            )
        except BusinessError as refusal:
            charges[index] = refusal
    locked = queries.lock_vouchers(platform_id=platform.pk, codes=codes)
    # The ids and the creation time are taken only now, with the vouchers
    # locked: a voucher's entries take their ids (and times) in the order
    # they are applied, whichever batch comes first (``check_ledger`` sums
    # each voucher's entries in id order).
    writes = BatchWrites(actor, platform, evidence, request_reference)
    vouchers: dict[str, Voucher] = {}
    for v in locked:
        v.program = programs[v.program_id]
        vouchers[v.code] = v
    dirty: dict[int, tuple[Voucher, set[str]]] = {}
    for index, order in orders:
        try:
            earlier = known.get(order.reference)
            if isinstance(earlier, Charged):
                # A charge made earlier in this batch: its replay, answered
                # once the charge is written.
                refuse_unless_replay(earlier, fingerprint=order.fingerprint)
                results[index] = (earlier, True)
                continue
            if earlier is not None:
                results[index] = replayed_redemption(earlier, fingerprint=order.fingerprint)
                continue
            voucher = vouchers.get(order.code)
            if voucher is None:
                raise voucher_not_found()
            redemption, fields = _charge_voucher(
                voucher,
                order,
                actor=actor,
                platform=platform,
                writes=writes,
                steps=schedules.get(voucher.program_id),
                charge=charges.get(index),
                now=writes.created_at,
            )
        except BusinessError as refusal:
            results[index] = refusal
            continue
        known[order.reference] = redemption
        _voucher, changed = dirty.setdefault(voucher.pk, (voucher, set()))
        changed.update(fields)
        results[index] = (redemption, False)
    writes.flush()
    only_amounts = []
    for voucher, changed in dirty.values():
        if changed:
            voucher.save(update_fields=["balance", "held", *sorted(changed)])
        else:
            only_amounts.append(voucher)
    queries.save_amounts(only_amounts)
    # The results of the batch's charges, now that their rows have ids.
    return [
        RedemptionResult.of(r[0], code=r[0].voucher.code, unit=r[0].voucher.unit, replayed=r[1])
        if isinstance(r, tuple)
        else r
        for r in results
        if r is not None
    ]
