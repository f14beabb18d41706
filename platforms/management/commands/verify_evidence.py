"""Re-verify the platform's signed request behind redemptions.

``verify_evidence <redemption-id> [...]`` checks each redemption's stored
signature against the platform's registered public key, the stored body
against the signed Content-Digest, and that the signed body reports this
charge. Prints one line per redemption; exit status 1 if any fails.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from platforms.evidence import EvidenceInvalid, redemption_evidence_verify
from vouchers.models import Redemption


class Command(BaseCommand):
    help = "Re-verify the signed platform request behind one or more redemptions."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("redemption_ids", nargs="+", type=int, metavar="redemption-id")
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        failures = 0
        results = []
        for redemption_id in options["redemption_ids"]:
            redemption = (
                Redemption.objects.select_related("voucher", "platform")
                .filter(pk=redemption_id)
                .first()
            )
            if redemption is None:
                failures += 1
                results.append({"redemption": redemption_id, "ok": False, "problem": "not found"})
                continue
            try:
                verified = redemption_evidence_verify(redemption)
            except EvidenceInvalid as problem:
                failures += 1
                results.append({"redemption": redemption_id, "ok": False, "problem": str(problem)})
            else:
                results.append({"ok": True, **verified})
        if options["json"]:
            self.stdout.write(json.dumps(results, ensure_ascii=False, indent=2))
        else:
            for result in results:
                if result["ok"]:
                    self.stdout.write(
                        f"redemption {result['redemption']} ({result['reference']}): OK, "
                        f"signed by {result['key_id']}"
                        + (" (key since revoked)" if result["key_revoked"] else "")
                        + f", body sha256 {result['body_sha256']}"
                    )
                else:
                    self.stdout.write(
                        f"redemption {result['redemption']}: FAILED: {result['problem']}"
                    )
        if failures:
            raise CommandError(f"{failures} of {len(results)} redemptions failed verification.")
