"""Expire vouchers at their expiry and return the remainders."""

from typing import Any

from django.core.management.base import BaseCommand

from vouchers.periodic import vouchers_expire_due


class Command(BaseCommand):
    help = "Expire vouchers at their expiry and return the remainders."

    def handle(self, *args: Any, **options: Any) -> None:
        count = vouchers_expire_due()
        self.stdout.write(f"{count}")
