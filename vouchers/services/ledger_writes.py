"""Writing a change to a voucher: the ledger entry and its audit event, the
status that follows from the amounts, and saving the locked row.

Every write of the voucher services locks the voucher first
(:func:`locked_voucher`), changes it in memory through :func:`ledger_entry`
(or :func:`record_change`, which also writes the entry and its event), and
saves it with :func:`save_voucher`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import F
from django_fsm import can_proceed

from accounts.models import ComputePlatform
from audit import commitments, events
from audit.services import Actor, audit_event, audit_record, audit_record_all
from common.bulk import insert_one
from programs.models import Program
from vouchers import queries
from vouchers.commitments import BATCH_OBJECT_TYPE, KIND
from vouchers.models import Hold, LedgerEntry, Redemption, Reversal, Voucher
from vouchers.services.inputs import voucher_not_found


def locked_voucher(
    *,
    platform: ComputePlatform | None,
    voucher_id: int | None = None,
    code: str | None = None,
) -> Voucher:
    """The voucher row, locked for this transaction (and only it), with its
    program; ``platform_bound`` is annotated when a platform asks. An unknown
    voucher is ``voucher_not_found``."""
    voucher = queries.lock_voucher(
        platform_id=None if platform is None else platform.pk, voucher_id=voucher_id, code=code
    )
    if voucher is None:
        raise voucher_not_found()
    return voucher


def ledger_entry(
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


def ledger_entry_event(entry: LedgerEntry, *, actor: Actor) -> Any:
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


def commit_entries(
    *,
    actor: Actor,
    platform_id: int | None,
    records: list[tuple[int, bytes]],
    vouchers: Sequence[Voucher],
) -> Any:
    """Commit ledger entries written together (a usage batch's) to the audit
    chain with one event: ``records`` are (id, content) in id order
    (:func:`vouchers.commitments.entry_content`). The event names the district
    and the enterprise when all the entries share one, as an entry's own
    event would."""
    if not records:
        return None
    districts = {v.program.district_id for v in vouchers}
    enterprises = {v.enterprise_id for v in vouchers}
    first, last = records[0][0], records[-1][0]
    event = audit_event(
        actor=actor,
        event_type=events.RECORDS_COMMITTED,
        obj=None,
        # Not the entries' own object type: an entry's own event is what
        # tells the verifier it needs no commitment.
        object_type=BATCH_OBJECT_TYPE,
        object_id=str(first),
        object_repr=f"{len(records)} ledger entries #{first}–#{last}",
        after=commitments.commitment(KIND, records),
        district_id=districts.pop() if len(districts) == 1 else None,
        enterprise_id=enterprises.pop() if len(enterprises) == 1 else None,
        platform_id=platform_id,
    )
    return audit_record_all([event])[0]


def record_change(voucher: Voucher, *, actor: Actor, **change: Any) -> LedgerEntry:
    """Apply one change to the (locked) voucher and write its ledger entry and
    audit event (:func:`ledger_entry` takes the change). The caller saves the voucher."""
    entry = ledger_entry(voucher, actor=actor, **change)
    write_entry(entry, actor=actor)
    return entry


def write_entry(entry: LedgerEntry, *, actor: Actor) -> None:
    """Insert a ledger entry built by :func:`ledger_entry`, and its audit event."""
    insert_one(entry)
    audit_record_all([ledger_entry_event(entry, actor=actor)])


def _reference_of(*rows: Redemption | Hold | Reversal | None) -> str | None:
    for row in rows:
        if row is not None:
            return row.reference
    return None


def audit_transition(
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


def settle_status(voucher: Voucher, *, actor: Actor) -> list[str]:
    """Move an active voucher that has nothing left to exhausted, and an
    exhausted one that got something back to active. Returns the fields to save."""
    before = voucher.status
    # The amounts first: a charge that leaves something on the voucher (all
    # but its last) settles nothing, and the transition's own checks cost a
    # usage batch ~10 µs per record.
    if (
        before == Voucher.Status.ACTIVE
        and voucher.has_nothing_left
        and can_proceed(voucher.exhaust)
    ):
        voucher.exhaust()
        audit_transition(voucher, actor=actor, event_type=events.VOUCHER_EXHAUSTED, before=before)
        return ["status", "status_reason"]
    if before == Voucher.Status.EXHAUSTED and can_proceed(voucher.replenish):
        voucher.replenish()
        audit_transition(voucher, actor=actor, event_type=events.VOUCHER_REPLENISHED, before=before)
        return ["status", "status_reason"]
    return []


def activate_if_due(voucher: Voucher, *, actor: Actor) -> list[str]:
    if voucher.status == Voucher.Status.ISSUED and can_proceed(voucher.activate):
        before = voucher.status
        voucher.activate()
        audit_transition(
            voucher,
            actor=Actor.system("voucher-activation") if actor.kind != "system" else actor,
            event_type=events.VOUCHER_ACTIVATED,
            before=before,
        )
        return ["status", "status_reason"]
    return []


def save_voucher(voucher: Voucher, fields: Sequence[str]) -> None:
    """Write a (locked) voucher's balance and held amount, and ``fields`` if any.

    A charge, hold or refund usually changes the two amounts and nothing
    else: that is :func:`vouchers.queries.save_amounts`' one fixed UPDATE, not an UPDATE
    compiled by ``save(update_fields=...)`` each time."""
    if fields:
        voucher.save(update_fields=["balance", "held", *fields])
    else:
        queries.save_amounts([voucher])


def program_return(program: Program, amount: Decimal) -> None:
    """Add ``amount`` to the program's returned counter (an atomic row update)."""
    Program.objects.filter(pk=program.pk).update(returned_amount=F("returned_amount") + amount)
    program.returned_amount += amount


def return_remainder(voucher: Voucher, *, kind: str, actor: Actor, note: str = "") -> Decimal:
    """Take what is left on the voucher back into the program's budget."""
    remainder = voucher.balance
    if remainder > 0:
        program_return(voucher.program, remainder)
        record_change(
            voucher,
            kind=kind,
            amount=remainder,
            balance_change=-remainder,
            program_return=remainder,
            actor=actor,
            note=note,
        )
    return remainder
