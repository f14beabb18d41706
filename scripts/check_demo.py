"""Check a seeded demo database: ``python scripts/check_demo.py [seed.json]``.

Exits non-zero and says what is missing when the demo, on today's Shanghai
date, has no open program, no active voucher or no phase-down step on each
side of today (``demo.checks``). Given the ``seed_demo --json`` output, it
also checks that the printed vouchers agree.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.utils import timezone  # noqa: E402

from demo.checks import demo_problems  # noqa: E402


def main() -> int:
    problems = demo_problems()
    if len(sys.argv) > 1:
        seeded = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
        if not any(
            v["status"] == "active" and v["balance"] not in ("0", "0.00")
            for v in seeded["vouchers"]
        ):
            problems.append("seed_demo --json lists no active voucher with a balance")
    if problems:
        print(f"!! the demo is not alive on {timezone.localdate()} (Shanghai):", file=sys.stderr)
        for problem in problems:
            print(f"   - {problem}", file=sys.stderr)
        return 1
    print(f"    the demo is alive on {timezone.localdate()} (Shanghai)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
