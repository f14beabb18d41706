"""Fault injection against the signed redemption API, bounded in time.

Usage (from the project root, PostgreSQL at 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/faults.py [--duration 60] [--kill-every 3] [--restart-postgres]

Reuses ``bench/api.py`` (database, seeding, gunicorn, signed client): it
recreates the database ``bench_faults``, seeds it, starts gunicorn with 3 sync
workers on 127.0.0.1, and runs ``--clients`` processes that each send signed
``POST /api/v1/redemptions``, one unique ``reference`` and ``Idempotency-Key``
per charge. On a connection error, a timeout, a 5xx or a 429 a client retries
the same request (same body bytes, same key, a new signature) until it gets a
definitive answer (2xx or another 4xx) or gives up (``--give-up`` seconds).
Meanwhile one gunicorn worker is killed with SIGKILL every ``--kill-every``
seconds and, with ``--restart-postgres`` (off by default: it disrupts
everything else using the server), PostgreSQL is restarted once mid-run.

Then it checks the ledger against what the clients saw, prints one line per
check (OK/FAIL) and the counts, stops gunicorn, drops the database, and exits
1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from queue import Empty
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api as benchapi  # bench/api.py, from the sys.path entry above

FORK = benchapi.FORK
RETRY_STATUSES = {429}  # besides 5xx: not a definitive answer


def fault_client(
    base_url: str,
    key_id: str,
    private_pem: bytes,
    codes: list[str],
    name: str,
    duration: float,
    give_up: float,
    queue: Any,
) -> None:
    """Charges until ``duration`` is over, each retried until a definitive answer."""
    import requests
    from requests_http_signature import HTTPSignatureAuth, algorithms

    benchapi._client_signals()
    counts: Counter[str] = Counter()
    charges: list[dict[str, Any]] = []
    samples: list[str] = []
    session = requests.Session()
    auth = HTTPSignatureAuth(
        signature_algorithm=algorithms.ED25519, key=private_pem, key_id=key_id, use_nonce=True
    )
    url = f"{base_url}/api/v1/redemptions"
    try:
        end = time.monotonic() + duration
        n = 0
        while time.monotonic() < end:
            n += 1
            reference = f"{name}-{n}"
            body = json.dumps(
                benchapi.redemption_body(random.choice(codes), reference)  # noqa: S311
            ).encode()
            headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
            charge: dict[str, Any] = {
                "reference": reference,
                "status": None,
                "id": None,
                "covered": None,
                "replayed": False,
                "succeeded": False,
                "attempts": 0,
            }
            give_up_at = time.monotonic() + give_up
            while True:
                charge["attempts"] += 1
                counts["requests"] += 1
                if charge["attempts"] > 1:
                    counts["retries"] += 1
                try:
                    response = session.post(url, data=body, headers=headers, auth=auth, timeout=10)
                except requests.Timeout:
                    counts["timeouts"] += 1
                    response = None
                except requests.ConnectionError:
                    counts["connection_errors"] += 1
                    session.close()
                    response = None
                if response is not None:
                    status = response.status_code
                    counts[f"http_{status}"] += 1
                    if status < 500 and status not in RETRY_STATUSES:
                        charge["status"] = status
                        try:
                            answer = response.json()
                        except ValueError:
                            answer = {}
                        if 200 <= status < 300:
                            charge["succeeded"] = True
                            charge["id"] = answer.get("id")
                            charge["covered"] = answer.get("covered")
                            charge["replayed"] = bool(answer.get("replayed"))
                        else:
                            charge["replayed"] = bool(answer.get("replayed"))
                            charge["error"] = (answer.get("error") or {}).get("code")
                            if len(samples) < 3:
                                samples.append(f"{status} {response.text[:300]}")
                        break
                    if len(samples) < 3 and status != 502:
                        samples.append(f"{status} {response.text[:300]}")
                if time.monotonic() > give_up_at:
                    charge["status"] = "gave_up"
                    counts["gave_up"] += 1
                    break
                time.sleep(0.05 if response is None else 0.2)
            charges.append(charge)
    except Exception:  # reported to the parent
        samples.append(traceback.format_exc(limit=3))
        counts["client_crash"] += 1
    queue.put({"counts": counts, "charges": charges, "samples": samples})


def restart_postgres() -> str:
    done = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return f"exit {done.returncode} {done.stderr.strip()[:200]}"


def check_results(platform_id: int, charges: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """(name, ok, detail) for the ledger against what the clients saw."""
    from django.db.models import Count, Q

    from vouchers.models import LedgerEntry, Redemption

    succeeded = {c["reference"]: c for c in charges if c["succeeded"]}
    refused = {
        c["reference"]: c
        for c in charges
        if isinstance(c["status"], int) and c["status"] >= 400 and not c["replayed"]
    }
    gave_up = {c["reference"] for c in charges if c["status"] == "gave_up"}
    rows = {
        r["reference"]: r
        for r in Redemption.objects.filter(platform_id=platform_id)
        .annotate(
            captures=Count(
                "ledger_entries", filter=Q(ledger_entries__kind=LedgerEntry.Kind.CAPTURE)
            )
        )
        .values("id", "reference", "covered", "captures")
    }
    missing, wrong = [], []
    for reference, charge in succeeded.items():
        row = rows.get(reference)
        if row is None:
            missing.append(reference)
        elif (
            row["captures"] != 1
            or Decimal(str(charge["covered"])) != row["covered"]
            or str(charge["id"]) != str(row["id"])
        ):
            wrong.append(f"{reference}: {row} vs {charge}")
    applied_refused = [r for r in refused if r in rows]
    unseen = [r for r in rows if r not in succeeded and r not in gave_up]
    return [
        (
            "succeeded charges in the ledger exactly once",
            not missing and not wrong,
            f"{len(succeeded)} charges, {len(missing)} missing, {len(wrong)} wrong"
            + (f" e.g. {(missing + wrong)[0]}" if missing or wrong else ""),
        ),
        (
            "refused charges not applied",
            not applied_refused,
            f"{len(refused)} refused with 4xx, {len(applied_refused)} applied"
            + (f" e.g. {applied_refused[0]}" if applied_refused else ""),
        ),
        (
            "no applied charge unknown to the clients",
            not unseen,
            f"{len(rows)} redemptions in the ledger, {len(unseen)} not seen succeed; "
            f"{len(gave_up)} given up ({len([r for r in gave_up if r in rows])} of them applied)",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description="Fault injection (see the module docstring).")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument(
        "--kill-every", type=float, default=3.0, help="SIGKILL a worker every N s (3)"
    )
    parser.add_argument("--clients", type=int, default=8, help="client processes (8)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (3)")
    parser.add_argument("--vouchers", type=int, default=200, help="vouchers to seed (200)")
    parser.add_argument(
        "--give-up", type=float, default=60.0, help="seconds of retrying one charge (60)"
    )
    parser.add_argument(
        "--restart-postgres",
        action="store_true",
        help="restart PostgreSQL (pg_ctlcluster 15 main) once mid-run; disrupts other users",
    )
    parser.add_argument("--database", default="bench_faults")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="server URL")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, benchapi._terminate)
    if not args.database.startswith("bench"):
        parser.error("--database must start with 'bench' (it is dropped and recreated)")
    if args.clients > benchapi.KEYS:
        parser.error(f"at most {benchapi.KEYS} clients (one key each)")

    database_url = f"{args.pg}/{args.database}"
    env = benchapi.use_bench_environment(database_url)

    proc = None
    clients: list[Any] = []
    failed = False
    try:
        if not benchapi.migrated_database(env, args.pg, args.database):
            return 1
        from django.db import connections

        seeded = benchapi.seed(args.vouchers)
        connections.close_all()

        port = benchapi.free_port()
        base_url = f"http://127.0.0.1:{port}"
        log = Path(tempfile.mkdtemp(prefix="bench-faults-")) / "gunicorn.log"
        proc = benchapi.start_gunicorn(dict(env, CONN_MAX_AGE="60"), port, args.workers, log)
        benchapi.wait_until_up(proc, base_url, seeded.keys[0], log)
        print(
            f"setup: database {args.database}, {args.vouchers} vouchers, gunicorn "
            f"{args.workers} workers at {base_url} (log {log}), {args.clients} clients, "
            f"{args.duration:g} s, kill a worker every {args.kill_every:g} s, "
            f"restart postgres {'once' if args.restart_postgres else 'no'}"
        )

        queue = FORK.Queue()
        clients = [
            FORK.Process(
                target=fault_client,
                args=(
                    base_url,
                    *seeded.keys[i + 1],
                    seeded.codes,
                    f"f{i}",
                    args.duration,
                    args.give_up,
                    queue,
                ),
                daemon=True,
            )
            for i in range(args.clients)
        ]
        for client in clients:
            client.start()

        start = time.monotonic()
        next_kill = start + args.kill_every
        restart_at = start + args.duration / 2 if args.restart_postgres else None
        killed = 0
        reports: list[dict[str, Any]] = []
        hard_end = start + args.duration + args.give_up + 60
        while len(reports) < len(clients):
            try:
                reports.append(queue.get(timeout=0.2))
                continue
            except Empty:
                pass
            now = time.monotonic()
            if now > hard_end:
                raise RuntimeError("client processes did not report in time")
            if now < start + args.duration and now >= next_kill:
                next_kill += args.kill_every
                pids = benchapi.worker_pids(proc.pid)
                if pids:
                    os.kill(random.choice(pids), signal.SIGKILL)  # noqa: S311
                    killed += 1
            if restart_at is not None and now >= restart_at:
                restart_at = None
                print(f"restart postgres: {restart_postgres()}")
        for client in clients:
            client.join(timeout=10)

        counts: Counter[str] = Counter()
        charges: list[dict[str, Any]] = []
        samples: list[str] = []
        for report in reports:
            counts.update(report["counts"])
            charges.extend(report["charges"])
            samples.extend(report["samples"])
        benchapi.stop_gunicorn(proc)

        checks = check_results(seeded.platform_id, charges)
        connections.close_all()
        sealed = benchapi.manage(env, "seal_audit", "--full-scan")
        for command in ("check_ledger", "verify_audit"):
            done = benchapi.manage(env, command)
            last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[
                -1
            ]
            checks.append(
                (f"{command} exit 0", done.returncode == 0, f"exit {done.returncode}: {last}")
            )
        if sealed.returncode != 0:
            checks.append(("seal_audit exit 0", False, sealed.stderr.strip()[-300:]))
        if counts["client_crash"]:
            checks.append(("no client crashed", False, f"{counts['client_crash']} crashed"))

        for name, ok, detail in checks:
            print(f"{'OK' if ok else 'FAIL'} {name}: {detail}")
            failed = failed or not ok
        statuses = ",".join(
            f"{k[5:]}x{v}" for k, v in sorted(counts.items()) if k.startswith("http_")
        )
        print(
            f"counts: requests sent {counts['requests']}, retries {counts['retries']}, "
            f"workers killed {killed}, connection errors {counts['connection_errors']}, "
            f"timeouts {counts['timeouts']}, charges {len(charges)}, "
            f"charges succeeded {sum(1 for c in charges if c['succeeded'])}, "
            f"answered replayed {sum(1 for c in charges if c['replayed'])}, "
            f"given up {counts['gave_up']}, statuses {statuses}"
        )
        for sample in samples[:3]:
            print(f"  sample answer: {' '.join(sample.split())[:400]}")
    finally:
        for client in clients:
            if client.is_alive():
                client.terminate()
                client.join(timeout=5)
        if proc is not None:
            benchapi.stop_gunicorn(proc)
        benchapi.drop_database(args.pg, args.database)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
