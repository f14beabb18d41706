"""Recompute vouchers and programs from their ledger entries.

The ledger is the truth: a voucher's balance and held are the sums of its
entries' changes, each entry records the running sums after it, holds and
redemptions agree with the entries that name them, and a program's issued
and returned counters are the sums of its vouchers' issue entries and
returns. :func:`ledger_differences` lists every disagreement; ``manage.py
check_ledger`` prints them and exits 1 when there is any.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Q, Sum, Window
from django.db.models.functions import Coalesce

from programs.models import Program

from .models import Hold, LedgerEntry, Redemption, Voucher

ZERO = Decimal("0")
CENT = Decimal("0.01")


def _q(value: Decimal | None) -> Decimal:
    """Sums to the cent: SQLite adds decimals as floats, PostgreSQL exactly."""
    return Decimal(value or 0).quantize(CENT)


@dataclass(frozen=True)
class Difference:
    """One disagreement between a stored figure and the ledger."""

    subject: str
    what: str
    stored: Decimal
    from_ledger: Decimal

    def __str__(self) -> str:
        return f"{self.subject}: {self.what} is {self.stored}, the ledger says {self.from_ledger}"


def _sum(field: str, condition: Q | None = None) -> Coalesce:
    return Coalesce(Sum(field, filter=condition), ZERO)


def _voucher_differences() -> Iterator[Difference]:
    vouchers = Voucher.objects.annotate(
        ledger_balance=_sum("ledger__balance_change"),
        ledger_held=_sum("ledger__held_change"),
        ledger_issued=_sum("ledger__amount", Q(ledger__kind=LedgerEntry.Kind.ISSUE)),
    ).values_list(
        "code", "balance", "held", "face_value", "ledger_balance", "ledger_held", "ledger_issued"
    )
    for code, balance, held, face, l_balance, l_held, l_issued in vouchers.iterator():
        l_balance, l_held, l_issued = _q(l_balance), _q(l_held), _q(l_issued)
        subject = f"voucher {code}"
        if balance != l_balance:
            yield Difference(subject, "balance", balance, l_balance)
        if held != l_held:
            yield Difference(subject, "held", held, l_held)
        if face != l_issued:
            yield Difference(subject, "face value", face, l_issued)
    open_holds = Voucher.objects.annotate(
        open_held=_sum("holds__amount", Q(holds__status=Hold.Status.OPEN))
    )
    for code, held, open_held in open_holds.values_list("code", "held", "open_held"):
        if held == _q(open_held):
            continue
        yield Difference(f"voucher {code}", "held versus its open holds", held, open_held)


def _running_differences() -> Iterator[Difference]:
    """Each entry's balance and held after it equal the running sums."""
    running = LedgerEntry.objects.annotate(
        running_balance=Window(
            Sum("balance_change"), partition_by=[F("voucher_id")], order_by=F("id").asc()
        ),
        running_held=Window(
            Sum("held_change"), partition_by=[F("voucher_id")], order_by=F("id").asc()
        ),
    ).values_list(
        "id", "voucher__code", "balance_after", "held_after", "running_balance", "running_held"
    )
    for pk, code, balance_after, held_after, run_balance, run_held in running.iterator():
        run_balance, run_held = _q(run_balance), _q(run_held)
        if balance_after != run_balance:
            yield Difference(f"entry {pk} of {code}", "balance after", balance_after, run_balance)
        if held_after != run_held:
            yield Difference(f"entry {pk} of {code}", "held after", held_after, run_held)


def _redemption_differences() -> Iterator[Difference]:
    redemptions = Redemption.objects.annotate(
        captured=_sum("ledger_entries__amount", Q(ledger_entries__kind=LedgerEntry.Kind.CAPTURE)),
        reversed_in_ledger=_sum(
            "ledger_entries__amount", Q(ledger_entries__kind=LedgerEntry.Kind.REVERSAL)
        ),
    )
    for pk, covered, reversed_amount, captured, reversed_ in redemptions.values_list(
        "pk", "covered", "reversed_amount", "captured", "reversed_in_ledger"
    ).iterator():
        captured, reversed_ = _q(captured), _q(reversed_)
        if covered != captured:
            yield Difference(f"redemption {pk}", "covered", covered, captured)
        if reversed_amount != reversed_:
            yield Difference(f"redemption {pk}", "reversed", reversed_amount, reversed_)


def _program_differences() -> Iterator[Difference]:
    programs = Program.objects.annotate(
        ledger_issued=_sum(
            "vouchers__ledger__amount", Q(vouchers__ledger__kind=LedgerEntry.Kind.ISSUE)
        ),
        ledger_returned=_sum("vouchers__ledger__program_return"),
    ).values_list(
        "pk", "name", "issued_amount", "returned_amount", "ledger_issued", "ledger_returned"
    )
    for pk, name, issued, returned, l_issued, l_returned in programs.iterator():
        l_issued, l_returned = _q(l_issued), _q(l_returned)
        subject = f"program {pk} ({name})"
        if issued != l_issued:
            yield Difference(subject, "issued", issued, l_issued)
        if returned != l_returned:
            yield Difference(subject, "returned", returned, l_returned)


def ledger_differences() -> list[Difference]:
    """Every figure that disagrees with the ledger; empty when all agree."""
    return [
        *_voucher_differences(),
        *_running_differences(),
        *_redemption_differences(),
        *_program_differences(),
    ]
