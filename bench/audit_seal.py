"""How fast the sealer seals, and the verifier verifies, 100,000 audit events.

Run against PostgreSQL:

    DATABASE_URL=postgres://... python bench/audit_seal.py [--events 100000] [--algorithm sm3]

Everything happens in one transaction that is rolled back at the end, so the
database keeps none of the generated events (the append-only triggers would
refuse to delete them afterwards).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from audit.models import AuditEvent  # noqa: E402
from audit.services import audit_checkpoint_create, audit_seal_pending  # noqa: E402
from audit.verification import audit_verify  # noqa: E402


class Rollback(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--algorithm", default="sha256", choices=["sha256", "sm3"])
    args = parser.parse_args()
    settings.AUDIT_HASH_ALGORITHM = args.algorithm
    print(f"database: {connection.vendor} {settings.DATABASES['default']['NAME']}")
    try:
        with transaction.atomic():
            t0 = time.perf_counter()
            AuditEvent.objects.bulk_create(
                (
                    AuditEvent(
                        event_type="voucher.captured",
                        actor_kind=AuditEvent.ActorKind.PLATFORM_KEY,
                        actor_label="key-bench",
                        source_ip="192.0.2.10",
                        object_type="vouchers.voucher",
                        object_id=str(i % 5000),
                        object_repr=f"V-{i % 5000:06d}",
                        district_id=1,
                        enterprise_id=i % 300,
                        platform_id=i % 7,
                        before={"balance": str(10_000 - i % 100)},
                        after={"balance": str(9_990 - i % 100), "points": i},
                        evidence={
                            "signature_input": 'sig1=("@method" "@path" "content-digest");keyid="key-bench"',
                            "signature": "sig1=:" + "A" * 86 + ":",
                            "content_digest": "sha-256=:" + "B" * 43 + "=:",
                        },
                    )
                    for i in range(args.events)
                ),
                batch_size=5000,
            )
            t1 = time.perf_counter()
            sealed = audit_seal_pending(batch_size=args.batch_size, full_scan=True)
            t2 = time.perf_counter()
            checkpoint = audit_checkpoint_create(force=True)
            t3 = time.perf_counter()
            result = audit_verify()
            t4 = time.perf_counter()
            print(f"inserted {args.events} events in {t1 - t0:.1f} s")
            print(
                f"sealed {sealed} events ({args.algorithm}, batches of {args.batch_size}) "
                f"in {t2 - t1:.1f} s: {sealed / (t2 - t1):,.0f} events/s"
            )
            print(
                f"signed a checkpoint of size {checkpoint.tree_size if checkpoint else 0} in {t3 - t2:.2f} s"
            )
            print(
                f"verified {result.sealed} events and {result.checkpoints} checkpoints in "
                f"{t4 - t3:.1f} s: {result.sealed / (t4 - t3):,.0f} events/s, ok={result.ok}"
            )
            raise Rollback
    except Rollback:
        print("rolled back: nothing kept")


if __name__ == "__main__":
    main()
