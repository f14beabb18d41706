"""Print an RFC 9162 inclusion proof that an audit event is in a signed checkpoint."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.selectors import ProofUnavailable, audit_inclusion_proof


class Command(BaseCommand):
    help = (
        "Print (JSON) the inclusion proof of an audit event in the newest checkpoint covering it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("event_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            proof = audit_inclusion_proof(event_id=options["event_id"])
        except ProofUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(proof, indent=2))
