"""Send expiry and low-balance reminders (each once)."""

from typing import Any

from django.core.management.base import BaseCommand

from vouchers.periodic import voucher_reminders_send


class Command(BaseCommand):
    help = "Send expiry and low-balance reminders (each once)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = voucher_reminders_send()
        self.stdout.write(f"{count}")
