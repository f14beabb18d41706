"""Release open holds past their expiry."""

from typing import Any

from django.core.management.base import BaseCommand

from vouchers.periodic import holds_release_expired


class Command(BaseCommand):
    help = "Release open holds past their expiry."

    def handle(self, *args: Any, **options: Any) -> None:
        count = holds_release_expired()
        self.stdout.write(f"{count}")
