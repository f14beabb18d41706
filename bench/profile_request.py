"""Where the time of one signed redemption goes, in-process, under cProfile.

Usage (from the project root, PostgreSQL at 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/profile_request.py                 # 400 redemptions
    .venv/bin/python bench/profile_request.py -n 1000 --top 40
    .venv/bin/python bench/profile_request.py --kind batch -n 5

It drops, recreates and migrates ``bench_profile`` (``--database``), seeds it
as ``bench/api.py`` does, and sends signed ``POST /api/v1/redemptions`` (or
usage batches of ``--batch-size`` records) through Django's WSGI handler in
this process, signed by the stock ``requests-http-signature`` client, each
with an ``Idempotency-Key`` and a unique ``reference``, as ``api.py``'s clients
send them. After a warm-up (so statements are prepared and caches full) it
prints:

- the statements one request sends, by kind, and their count;
- wall time per request without the profiler (median of the runs), and the
  share of it spent waiting for PostgreSQL (time inside psycopg's ``execute``);
- the profile of ``-n`` requests: the functions with the most own time and
  the project's and libraries' entry points with the most cumulative time.

The audit sealer runs as it would in production with ``--broker`` (queued
to the broker; nothing seals here) or else in the request, as in
development mode.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import json
import pstats
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api as bench


def _statement_kind(sql: str) -> str:
    """``SELECT vouchers_voucher``, ``SAVEPOINT``, …: the verb and first table."""
    words = sql.split()
    verb = words[0].upper() if words else "?"
    table = next((w.strip('"') for w in words[1:] if w.startswith('"')), "")
    if verb == "SELECT" and " FOR UPDATE" in sql:
        verb = "SELECT … FOR UPDATE"
    if verb in ("SELECT", "SELECT … FOR UPDATE") and ' FROM "' in sql:
        table = sql.split(' FROM "', 1)[1].split('"', 1)[0]
    return f"{verb} {table}".strip()


@contextlib.contextmanager
def _locked_section(held: list[float], kind: str) -> Iterator[None]:
    """Record, per usage batch, how long its vouchers stay locked: from the
    lock query (``vouchers.queries.lock_vouchers``) to the end of the
    transaction's COMMIT, when the row locks are released."""
    if kind != "batch":
        yield
        return
    from django.db import transaction

    from vouchers import queries

    lock = queries.lock_vouchers

    def timed_lock(**kwargs: Any) -> Any:
        started = time.perf_counter()
        transaction.on_commit(lambda: held.append(time.perf_counter() - started))
        return lock(**kwargs)

    queries.lock_vouchers = timed_lock  # type: ignore[assignment]
    try:
        yield
    finally:
        queries.lock_vouchers = lock  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=400, help="profiled requests (400)")
    parser.add_argument("--warmup", type=int, default=50, help="requests before measuring (50)")
    parser.add_argument("--kind", choices=["single", "batch"], default="single")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30, help="rows of each profile table (30)")
    parser.add_argument("--broker", metavar="URL", help="production mode: queue the sealer here")
    parser.add_argument("--database", default="bench_profile")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    if not args.database.startswith("bench"):
        parser.error("--database must start with 'bench' (it is dropped and recreated)")

    env = bench.use_bench_environment(f"{args.pg}/{args.database}")
    if args.broker:
        env["CELERY_BROKER_URL"] = args.broker
        import os

        os.environ["CELERY_BROKER_URL"] = args.broker
    if not bench.migrated_database(env, args.pg, args.database):
        return 1
    seeded = bench.seed(max(300, args.n + args.warmup))
    bench.vacuum_analyze(f"{args.pg}/{args.database}")

    import requests
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from requests_http_signature import HTTPSignatureAuth, algorithms

    key_id, pem = seeded.keys[0]
    auth = HTTPSignatureAuth(
        signature_algorithm=algorithms.ED25519, key=pem, key_id=key_id, use_nonce=True
    )
    client = Client(HTTP_HOST="127.0.0.1")
    codes = itertools.cycle(seeded.codes)
    counter = iter(range(10**9))
    path = "/api/v1/usage-batches" if args.kind == "batch" else "/api/v1/redemptions"

    def body() -> dict[str, Any]:
        n = next(counter)
        if args.kind == "batch":
            return {
                "records": [
                    bench.redemption_body(next(codes), f"prof-{n}-{i}")
                    for i in range(args.batch_size)
                ]
            }
        return bench.redemption_body(next(codes), f"prof-{n}")

    def prepared() -> requests.PreparedRequest:
        request = requests.Request(
            "POST",
            f"http://127.0.0.1{path}",
            data=json.dumps(body()).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
        ).prepare()
        auth(request)
        return request

    def send(request: requests.PreparedRequest) -> None:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("content-length", "content-type")
        }
        response = client.generic(
            "POST",
            path,
            data=request.body,
            content_type="application/json",
            headers=headers,
        )
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{response.status_code} {response.content[:400]!r}")

    warm = args.warmup if args.kind == "single" else 2
    for _ in range(warm):
        send(prepared())

    with CaptureQueriesContext(connection) as captured:
        send(prepared())
    kinds = Counter(_statement_kind(q["sql"]) for q in captured.captured_queries)
    print(f"statements per request: {len(captured.captured_queries)}")
    for kind, count in kinds.most_common():
        print(f"  {count:3d}  {kind}")

    # Wall time without the profiler, and the time spent in execute().
    in_db = 0.0

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal in_db
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            in_db += time.perf_counter() - t

    requests_ = [prepared() for _ in range(args.n)]
    walls = []
    locked: list[float] = []
    with connection.execute_wrapper(timed), _locked_section(locked, args.kind):
        for request in requests_:
            t = time.perf_counter()
            send(request)
            walls.append(time.perf_counter() - t)
    reset_queries()
    total = sum(walls)
    print(
        f"wall per request: median {statistics.median(walls) * 1e3:.2f} ms, "
        f"mean {total / len(walls) * 1e3:.2f} ms over {len(walls)}; "
        f"in psycopg execute {in_db / len(walls) * 1e3:.2f} ms ({in_db / total:.0%}); "
        f"Python {(total - in_db) / len(walls) * 1e3:.2f} ms"
    )
    if locked:
        held = statistics.median(locked)
        print(
            f"vouchers locked per request: median {held * 1e3:.2f} ms "
            f"({held / statistics.median(walls):.0%} of the wall time), from the lock "
            f"query to the end of COMMIT; batches that share vouchers run this part "
            f"one at a time, so they cannot exceed {args.batch_size / held:,.0f} records/s "
            f"on any number of cores"
        )

    requests_ = [prepared() for _ in range(args.n)]
    profiler = cProfile.Profile()
    profiler.enable()
    for request in requests_:
        send(request)
    profiler.disable()
    for sort in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(sort).print_stats(args.top)
        if sort == "cumulative":
            # The project's own functions, for where in the request the time goes.
            stats.print_stats(r"/(accounts|audit|config|platforms|vouchers)/", args.top)
        print(f"--- profile of {args.n} requests by {sort} ---")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:20000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
