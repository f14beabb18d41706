"""A usage batch's writes: the charges it decided, written together as plain
rows (:class:`BatchWrites`), and the content of each ledger entry's leaf in
the audit event that commits them (``vouchers.commitments``).

:func:`vouchers.services.charge.voucher_redeem_batch` decides each charge
with the same function as a single charge; only the writing differs, and
lives here.
"""

from __future__ import annotations

import datetime
import operator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from accounts.models import ComputePlatform
from audit.services import Actor
from common.bulk import copy_rows
from vouchers.commitments import ENTRY_COLUMNS, REDEMPTION_COLUMNS, entry_content
from vouchers.models import LedgerEntry, Redemption, Voucher
from vouchers.services.coverage import Charge
from vouchers.services.ledger_writes import commit_entries

if TYPE_CHECKING:
    from vouchers.services.charge import _Order


@dataclass(slots=True)
class Charged:
    """A batch's charge, decided and waiting to be written: the redemption's
    values (what :class:`RedemptionResult` reads) and its ledger entry's.
    ``pk`` and ``entry_id`` are set when the batch is written."""

    voucher: Voucher
    reference: str
    occurred_at: datetime.datetime
    billed_amount: Decimal | None
    rate_applied: Decimal | None
    points_used: int | None
    covered: Decimal
    payable_by_enterprise: Decimal
    usage: list[dict[str, Any]]
    allow_partial: bool
    balance_after: Decimal
    request_fingerprint: str
    created_at: datetime.datetime
    entry_balance_after: Decimal
    entry_held_after: Decimal
    pk: int | None = None
    entry_id: int | None = None


_REDEMPTION_COLUMNS = (
    "voucher_id",
    "platform_id",
    "reference",
    "occurred_at",
    "billed_amount",
    "rate_applied",
    "points_used",
    "covered",
    "payable_by_enterprise",
    "reversed_amount",
    "usage",
    "allow_partial",
    "balance_after",
    "status",
    "request_fingerprint",
    "request_evidence",
    "created_at",
)
_ENTRY_COLUMNS = (
    "voucher_id",
    "kind",
    "amount",
    "balance_change",
    "held_change",
    "balance_after",
    "held_after",
    "program_return",
    "redemption_id",
    "platform_id",
    "actor_kind",
    "actor_label",
    "request_evidence",
    "note",
    "created_at",
)
_ZERO = Decimal("0.00")


class BatchWrites:
    """The charges a batch has decided, written on :meth:`flush` as plain rows:
    one COPY of redemptions, one of ledger entries, and one audit event that
    commits the entries (``audit.commitments``: a Merkle root over each
    entry's leaf) instead of an event per entry. The signed request is kept
    once (its body and evidence, by the API layer); each redemption names
    it by ``request_evidence`` (``request_reference``), and its ledger entry
    by the redemption."""

    def __init__(
        self,
        actor: Actor,
        platform: ComputePlatform,
        evidence: dict[str, Any] | None,
        request_reference: dict[str, Any] | None,
    ) -> None:
        self.actor = actor
        self.platform = platform
        self.evidence = evidence
        self.reference = request_reference if request_reference is not None else evidence
        self.rows: list[Charged] = []
        # The batch is judged and written at one moment, once its vouchers
        # are locked: every row it writes carries the same creation time
        # (and one text of it in the leaves).
        self.created_at = timezone.now()

    def charge(self, voucher: Voucher, order: _Order, *, charge: Charge, covered: Decimal) -> Any:
        voucher.balance -= covered
        row = Charged(
            voucher=voucher,
            reference=order.reference,
            occurred_at=order.occurred_at,
            billed_amount=charge.billed_amount,
            rate_applied=charge.rate,
            points_used=charge.points_used,
            covered=covered,
            payable_by_enterprise=charge.asked - covered,
            usage=order.lines,
            allow_partial=order.allow_partial,
            balance_after=voucher.balance - voucher.held,
            request_fingerprint=order.fingerprint,
            created_at=self.created_at,
            entry_balance_after=voucher.balance,
            entry_held_after=voucher.held,
        )
        self.rows.append(row)
        return row

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return
        platform_id = self.platform.pk
        reference = self.reference
        ids = copy_rows(
            Redemption,
            _REDEMPTION_COLUMNS,
            [
                (
                    r.voucher.pk,
                    platform_id,
                    r.reference,
                    r.occurred_at,
                    r.billed_amount,
                    r.rate_applied,
                    r.points_used,
                    r.covered,
                    r.payable_by_enterprise,
                    _ZERO,
                    r.usage,
                    r.allow_partial,
                    r.balance_after,
                    Redemption.Status.CAPTURED.value,
                    r.request_fingerprint,
                    reference,
                    r.created_at,
                )
                for r in rows
            ],
            json_columns=("usage", "request_evidence"),
        )
        for r, pk in zip(rows, ids, strict=True):
            r.pk = pk
        kind = LedgerEntry.Kind.CAPTURE.value
        actor_kind, actor_label = self.actor.kind, self.actor.label[:200]
        entries = [
            (
                r.voucher.pk,
                kind,
                r.covered,
                -r.covered,
                _ZERO,
                r.entry_balance_after,
                r.entry_held_after,
                _ZERO,
                r.pk,
                platform_id,
                actor_kind,
                actor_label,
                None,
                "",
                r.created_at,
            )
            for r in rows
        ]
        entry_ids = copy_rows(LedgerEntry, _ENTRY_COLUMNS, entries)
        for r, pk in zip(rows, entry_ids, strict=True):
            r.entry_id = pk
        commit_entries(
            actor=self.actor,
            platform_id=platform_id,
            records=[
                (pk, _committed_content(entry, r))
                for pk, entry, r in zip(entry_ids, entries, rows, strict=True)
            ],
            vouchers=[r.voucher for r in rows],
        )


# Where each column of the leaf's entry part is in a COPY row (None: a
# column a capture does not write — hold, reversal, user), and the getter of
# the redemption's values, worked out once rather than per entry.
_LEAF_FROM_ROW = [
    _ENTRY_COLUMNS.index(name) if name in _ENTRY_COLUMNS else None for name in ENTRY_COLUMNS
]
_REDEMPTION_VALUES = operator.attrgetter(*REDEMPTION_COLUMNS)


def _committed_content(entry: tuple[Any, ...], row: Charged) -> bytes:
    """A batch entry's content in its leaf (``vouchers.commitments``), from what
    was written: its COPY columns put in the order of
    :data:`vouchers.commitments.ENTRY_COLUMNS` (a capture has no hold, reversal
    or user), and its redemption's in that of ``REDEMPTION_COLUMNS``."""
    return entry_content(
        [None if at is None else entry[at] for at in _LEAF_FROM_ROW],
        _REDEMPTION_VALUES(row),
    )
