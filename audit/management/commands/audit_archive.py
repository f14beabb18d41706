"""Archive sealed audit events older than the retention period to a file."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.archive import ArchiveRefused, archive_verify_file, audit_archive


class Command(BaseCommand):
    help = (
        "Write the sealed audit events that occurred before DATE to FILE (JSON Lines, with "
        "the chain heads and checkpoints to verify them); with --delete, remove them from "
        "the database afterwards. Refuses dates less than 180 days ago."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, help="YYYY-MM-DD, exclusive.")
        parser.add_argument("--out", required=True, metavar="FILE")
        parser.add_argument(
            "--delete",
            action="store_true",
            help="Delete the archived rows once the file is written and verified.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            before = datetime.date.fromisoformat(options["before"])
        except ValueError as exc:
            raise CommandError("--before must be a date, YYYY-MM-DD.") from exc
        out = Path(options["out"])
        if out.exists():
            raise CommandError(f"{out} exists; choose a new file name.")
        try:
            result = audit_archive(before=before, out=out, delete=options["delete"])
        except ArchiveRefused as exc:
            out.unlink(missing_ok=True)
            raise CommandError(str(exc)) from exc
        _ok, message = archive_verify_file(out)
        self.stdout.write(
            f"Archived seals {result.first_seq}–{result.last_seq} ({result.events} events) to "
            f"{out}, SHA-256 {result.file_sha256}; {message}."
            + (" Rows deleted." if result.deleted else " Rows kept (add --delete to remove them).")
        )
