"""Activate issued vouchers whose valid-from has come."""

from typing import Any

from django.core.management.base import BaseCommand

from vouchers.periodic import vouchers_activate_due


class Command(BaseCommand):
    help = "Activate issued vouchers whose valid-from has come."

    def handle(self, *args: Any, **options: Any) -> None:
        count = vouchers_activate_due()
        self.stdout.write(f"{count}")
