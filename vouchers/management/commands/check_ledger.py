"""Recompute every voucher and program from the ledger; exit 1 on any difference."""

import sys
from typing import Any

from django.core.management.base import BaseCommand

from vouchers.ledger import ledger_differences
from vouchers.models import LedgerEntry, Voucher


class Command(BaseCommand):
    help = "Recompute every voucher and program from the ledger; exit status 1 on any difference."

    def handle(self, *args: Any, **options: Any) -> None:
        differences = ledger_differences()
        for difference in differences:
            self.stdout.write(str(difference))
        vouchers = Voucher.objects.count()
        entries = LedgerEntry.objects.count()
        if differences:
            self.stderr.write(
                f"{len(differences)} difference(s) in {vouchers} vouchers and {entries} entries"
            )
            sys.exit(1)
        self.stdout.write(f"ledger OK: {vouchers} vouchers, {entries} entries, no differences")
