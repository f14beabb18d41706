"""Vouchers with their ledger, holds, redemptions, reversals and receivables.

A voucher's ``balance`` is what is left on it, including what platforms
hold for running jobs; ``held`` is the part of it reserved by open holds,
so ``available = balance - held`` is what a new charge may take. Every change
of balance or held is a LedgerEntry; ``manage.py check_ledger`` verifies the
two columns are the sums of the entries' changes.
"""

from vouchers.models.charges import Hold, Redemption, Reversal
from vouchers.models.ledger import LedgerEntry, Receivable, VoucherReminder
from vouchers.models.voucher import Voucher, official_may

__all__ = [
    "Hold",
    "LedgerEntry",
    "Receivable",
    "Redemption",
    "Reversal",
    "Voucher",
    "VoucherReminder",
    "official_may",
]
