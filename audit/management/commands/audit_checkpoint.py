"""Sign a checkpoint of the audit log, and export checkpoints or the public key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import signing
from audit.models import AuditCheckpoint
from audit.services import audit_checkpoint_create, audit_seal_pending, checkpoint_export


class Command(BaseCommand):
    help = (
        "Seal pending events and sign a checkpoint (tree head) of the audit log; "
        "optionally export checkpoints as JSON and the public key as PEM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--export", metavar="FILE", help="Write checkpoints as JSON to FILE.")
        parser.add_argument(
            "--all", action="store_true", help="Export every checkpoint, not only the newest."
        )
        parser.add_argument(
            "--public-key", metavar="FILE", help="Write the signing key's public key (PEM)."
        )
        parser.add_argument(
            "--no-create", action="store_true", help="Only export; sign no new checkpoint."
        )
        parser.add_argument(
            "--force", action="store_true", help="Sign even when the log has not grown."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_create"]:
            audit_seal_pending(full_scan=True)
            checkpoint = audit_checkpoint_create(force=options["force"])
            if checkpoint is None:
                self.stdout.write("The audit log is empty; nothing to sign.")
            else:
                self.stdout.write(
                    f"Checkpoint #{checkpoint.pk}: size {checkpoint.tree_size}, "
                    f"{checkpoint.algorithm} root {checkpoint.root_hash}, "
                    f"signed by key {checkpoint.key_id}."
                )
        if options["export"]:
            qs = AuditCheckpoint.objects.order_by("tree_size", "id")
            chosen = list(qs) if options["all"] else list(qs.reverse()[:1])
            if not chosen:
                raise CommandError("There is no checkpoint to export yet.")
            document = checkpoint_export(chosen)
            Path(options["export"]).write_text(
                json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            self.stdout.write(f"Exported {len(chosen)} checkpoint(s) to {options['export']}.")
        if options["public_key"]:
            public = signing.signing_key().public_key()
            Path(options["public_key"]).write_text(signing.public_key_pem(public), encoding="ascii")
            self.stdout.write(
                f"Wrote public key {signing.key_id(public)} to {options['public_key']}."
            )
