"""Seal the committed audit events into the hash chain now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.services import audit_seal_pending


class Command(BaseCommand):
    help = "Seal committed audit events into the hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--full-scan",
            action="store_true",
            help="Look at every unsealed event, not only those near the head of the log.",
        )
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args: Any, **options: Any) -> None:
        sealed = audit_seal_pending(
            batch_size=options["batch_size"], full_scan=options["full_scan"]
        )
        self.stdout.write(f"Sealed {sealed} events.")
