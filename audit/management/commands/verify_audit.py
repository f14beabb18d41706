"""Re-derive the audit chain and its checkpoints; exit 1 at the first mismatch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.verification import audit_verify, published_checkpoints


class Command(BaseCommand):
    help = (
        "Verify the audit log: every sealed event against its seal, the chain, the "
        "Merkle tree and every checkpoint (stored, and published ones given with "
        "--published). Names the first event that does not match and exits 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--published",
            metavar="FILE",
            action="append",
            default=[],
            help="A checkpoint export (audit_checkpoint --export) to check the log against.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        extra = []
        for name in options["published"]:
            document = json.loads(Path(name).read_text(encoding="utf-8"))
            extra.extend(published_checkpoints(document, name))
        result = audit_verify(extra_checkpoints=extra)
        if not result.ok:
            self.stderr.write(f"AUDIT LOG MISMATCH: {result.problem}")
            if result.event_id is not None:
                self.stderr.write(f"First event that does not match: #{result.event_id}")
            self.stderr.write(f"Sealed events verified before it: {result.sealed}")
            sys.exit(1)
        for warning in result.warnings:
            self.stderr.write(f"Warning: {warning}")
        self.stdout.write(
            f"Audit log verified: {result.sealed} sealed events, "
            f"{result.checkpoints} checkpoints, {result.unsealed} events awaiting their seal, "
            f"{result.committed_records} records committed by {result.commitments} batch events"
            + (f", archived up to seal {result.archived_up_to}" if result.archived_up_to else "")
            + "."
        )
