"""Soak: signed redemptions at a fixed rate for minutes, worker memory watched.

Usage (from the project root, PostgreSQL at 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/soak.py --capacity 61       # 10 min at half of 61 req/s
    .venv/bin/python bench/soak.py --duration 60 --rate 10 --sample-every 15

``--capacity`` is the ``redemptions c=8`` figure of ``bench/api.py`` taken on
the same machine; the soak runs at half of it (or at ``--rate`` req/s).

Reuses ``bench/api.py`` (database, seeding, gunicorn, signed client): it
recreates the database ``bench_soak``, seeds it, starts gunicorn with 3 sync
workers and worker recycling off (so the memory figures are those of the same
workers for the whole run), and drives an open-loop load: ``--clients``
processes each send signed ``POST /api/v1/redemptions`` (one unique
``reference`` and ``Idempotency-Key`` each) on a fixed timetable of
rate/clients per second. A client that is behind its timetable sends at once
and counts the slot "late"; slots that passed entirely meanwhile are skipped
and counted, never sent in a burst. One more process sends a usage batch of
``--batch-size`` records every ``--batch-every`` seconds.

Every ``--sample-every`` seconds it prints one ``sample`` line (requests,
errors, req/s, latency, VmRSS of each worker, PostgreSQL backends, CPU); at
the end summary lines, ``check_ledger`` and ``verify_audit``, and
``soak: PASS`` or ``soak: FAIL (reasons)`` (exit 1). Memory is "flat" when
each worker grew less than ``--max-growth-mb`` from the sample at 20 % of the
run to the last one. gunicorn is stopped and the database dropped at the end,
also on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import secrets
import signal
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from queue import Empty
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api as benchapi  # bench/api.py, from the sys.path entry above

FORK = benchapi.FORK
# What benchapi.seed() issues: vouchers of 10,000 yuan in a program at rate
# 0.30, so each charge of BILLED covers BILLED x 0.30 of a voucher.
VOUCHER_AMOUNT = Decimal("10000.00")
PROGRAM_RATE = Decimal("0.30")
COVERED = Decimal(benchapi.BILLED) * PROGRAM_RATE
REQUEST_TIMEOUT = 30.0  # gunicorn's worker timeout
MAX_SAMPLES = 5  # error answers kept to print


# ---------------------------------------------------------------------------
# Client processes
# ---------------------------------------------------------------------------


class Timetable:
    """Slots ``first + k * interval`` before ``end``, waited for one by one.

    Open loop: the schedule does not depend on the answers. A client that
    reaches a slot after its time (the previous answer came late) sends at
    once and counts it late; slots that passed entirely meanwhile are skipped
    and counted, so a slow server never gets a catch-up burst."""

    def __init__(self, first: float, interval: float, end: float) -> None:
        self.first = first
        self.interval = interval
        self.slots = max(0, math.ceil((end - first) / interval))
        self.k = -1

    def wait(self) -> tuple[bool, int] | None:
        """Sleep until the next slot; ``(late, slots skipped)``, or None when none is left."""
        self.k += 1
        if self.k >= self.slots:
            return None
        behind = time.monotonic() - (self.first + self.k * self.interval)
        skipped = 0
        if behind >= self.interval:
            skipped = min(int(behind // self.interval), self.slots - self.k)
            self.k += skipped
            if self.k >= self.slots:
                return None
            behind -= skipped * self.interval
        if behind < 0:
            time.sleep(-behind)
            return False, skipped
        return True, skipped


def paced_client(
    kind: str,
    base_url: str,
    key_id: str,
    private_pem: bytes,
    codes: list[str],
    name: str,
    first: float,
    interval: float,
    end: float,
    batch_size: int,
    queue: Any,
) -> None:
    """Sends one request per timetable slot and reports each answer to ``queue``.

    ``kind`` is ``"r"`` (one redemption per slot) or ``"b"`` (a usage batch of
    ``batch_size`` records per slot). Messages: ``(kind, done_at, latency,
    status, late, skipped, records)``, ``("sample", text)``, ``("crash", text)``
    and finally ``("done", name)``."""
    import requests
    from requests_http_signature import HTTPSignatureAuth, algorithms

    benchapi._client_signals()
    session = requests.Session()
    auth = HTTPSignatureAuth(
        signature_algorithm=algorithms.ED25519, key=private_pem, key_id=key_id, use_nonce=True
    )
    url = f"{base_url}/api/v1/{'usage-batches' if kind == 'b' else 'redemptions'}"
    samples = 0
    try:
        timetable = Timetable(first, interval, end)
        n = 0
        while (slot := timetable.wait()) is not None:
            late, skipped = slot
            n += 1
            body: dict[str, Any]
            if kind == "b":
                body = {
                    "records": [
                        benchapi.redemption_body(secrets.choice(codes), f"{name}-{n}-{i}")
                        for i in range(batch_size)
                    ]
                }
            else:
                body = benchapi.redemption_body(secrets.choice(codes), f"{name}-{n}")
            headers = {"Idempotency-Key": uuid.uuid4().hex}
            records: Counter[str] = Counter()
            t = time.monotonic()
            try:
                response = session.post(
                    url, json=body, headers=headers, auth=auth, timeout=REQUEST_TIMEOUT
                )
            except requests.RequestException as exc:
                status, text = type(exc).__name__, f"{type(exc).__name__}: {exc}"
                session.close()
            else:
                status, text = str(response.status_code), ""
                if not 200 <= response.status_code < 300:
                    text = f"{status} {response.text[:400]}"
                elif kind == "b":
                    for result in response.json().get("results", []):
                        records[result.get("status", "?")] += 1
                        if result.get("status") != "captured" and not text:
                            text = f"record {json.dumps(result, ensure_ascii=False)[:400]}"
            done = time.monotonic()
            queue.put((kind, done, done - t, status, late, skipped, dict(records)))
            if text and samples < MAX_SAMPLES:
                samples += 1
                queue.put(("sample", f"{name}: {text}"))
    except Exception:  # reported to the parent
        queue.put(("crash", f"{name}: {traceback.format_exc(limit=3)}"))
    queue.put(("done", name))


# ---------------------------------------------------------------------------
# Tallies and sampling
# ---------------------------------------------------------------------------


@dataclass
class Tally:
    """Answers of one kind (redemptions or batches) over a window or the run."""

    requests: int = 0
    ok: int = 0
    late: int = 0
    skipped: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)

    def add(self, status: str, latency: float, late: bool, skipped: int, records: Any) -> None:
        self.requests += 1
        self.ok += status.startswith("2")
        self.late += late
        self.skipped += skipped
        self.latencies.append(latency)
        self.statuses[status] += 1
        self.records.update(records)

    def merge(self, other: Tally) -> None:
        self.requests += other.requests
        self.ok += other.ok
        self.late += other.late
        self.skipped += other.skipped
        self.latencies.extend(other.latencies)
        self.statuses.update(other.statuses)
        self.records.update(other.records)

    @property
    def errors(self) -> int:
        return self.requests - self.ok

    def error_statuses(self) -> str:
        bad = {k: v for k, v in self.statuses.items() if not k.startswith("2")}
        return ",".join(f"{k}x{v}" for k, v in sorted(bad.items())) or "none"

    def rejected(self) -> int:
        return sum(v for k, v in self.records.items() if k != "captured")

    def p(self, q: float) -> float:
        return benchapi.percentile(self.latencies, q)


@dataclass
class Sample:
    elapsed: float
    rss: dict[int, float]


class CpuMeter:
    """CPU seconds used by groups of processes, polled (a process that exits
    between two polls loses only what it used since the last one)."""

    def __init__(self, groups: dict[str, Any]) -> None:
        self.groups = groups  # name -> callable returning the group's pids now
        self.seen: dict[str, dict[int, float]] = {name: {} for name in groups}
        self.used: dict[str, float] = dict.fromkeys(groups, 0.0)
        self.machine = benchapi.machine_busy()
        self.started = False

    def poll(self) -> None:
        for name, pids_of in self.groups.items():
            seen = self.seen[name]
            for pid in pids_of():
                now = benchapi.process_cpu(pid)
                if now is None:
                    continue
                # At the first poll every process starts from what it has
                # used so far; a process that appears later, from zero.
                before = seen.get(pid, now if not self.started else 0.0)
                self.used[name] += now - before
                seen[pid] = now
        self.started = True

    def take(self, seconds: float) -> str:
        """Cores used per group since the last ``take``, and the rest of the machine."""
        self.poll()
        machine = benchapi.machine_busy()
        total = machine - self.machine
        other = total - sum(self.used.values())
        parts = " + ".join(f"{name} {used / seconds:.2f}" for name, used in self.used.items())
        self.machine = machine
        self.used = dict.fromkeys(self.groups, 0.0)
        return f"cpu cores {total / seconds:.2f} = {parts} + other {other / seconds:.2f}"


def rss_of(pids: list[int]) -> dict[int, float]:
    sizes = {}
    for pid in pids:
        try:
            sizes[pid] = benchapi.rss_mb(pid)
        except OSError:
            continue
    return sizes


def wait_until_up(proc: Any, base_url: str, key: tuple[str, bytes], log: Path) -> None:
    """``benchapi.wait_until_up``, tried again when the first signed ping times
    out (a worker's first request loads the application; slow on a busy machine)."""
    import requests

    for attempt in range(3):
        try:
            benchapi.wait_until_up(proc, base_url, key, log)
            return
        except requests.Timeout:
            if attempt == 2:
                raise


def last_line(done: Any) -> str:
    lines = done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""]
    return str(lines[-1])


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


@dataclass
class Run:
    """What the load phase saw."""

    redemptions: Tally
    batches: Tally
    samples: list[Sample]
    peak: dict[int, float]
    workers: list[int]
    replaced: set[int]
    errors: list[str]
    crashes: list[str]
    scheduled: int
    unfinished: int


def drive(
    args: argparse.Namespace,
    rate: float,
    base_url: str,
    seeded: benchapi.Seed,
    proc: Any,
    backends: Any,
    clients: list[Any],
) -> Run:
    """Runs the paced clients for ``args.duration``, printing a sample line
    every ``args.sample_every`` seconds; ``clients`` gets the processes (the
    caller stops them on an error)."""
    queue = FORK.Queue()
    interval = args.clients / rate
    start = time.monotonic() + 1.0  # time for the processes to start
    end = start + args.duration
    specs = [
        ("r", *seeded.keys[i + 1], f"soak{i}", start + i * interval / args.clients, interval)
        for i in range(args.clients)
    ]
    if args.batch_every:
        specs.append(
            ("b", *seeded.keys[0], "batch", start + args.batch_every / 2, args.batch_every)
        )
    scheduled = sum(Timetable(spec[4], spec[5], end).slots for spec in specs if spec[0] == "r")
    for kind, key_id, pem, name, first, every in specs:
        client = FORK.Process(
            target=paced_client,
            args=(
                kind,
                base_url,
                key_id,
                pem,
                seeded.codes,
                name,
                first,
                every,
                end,
                args.batch_size,
                queue,
            ),
            daemon=True,
        )
        client.start()
        clients.append(client)

    run = Run(
        redemptions=Tally(),
        batches=Tally(),
        samples=[],
        peak={},
        workers=sorted(benchapi.worker_pids(proc.pid)),
        replaced=set(),
        errors=[],
        crashes=[],
        scheduled=scheduled,
        unfinished=0,
    )
    window = {"r": Tally(), "b": Tally()}
    done: set[str] = set()

    def handle(message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind in window:
            _kind, _done_at, latency, status, late, skipped, records = message
            window[kind].add(status, latency, late, skipped, records)
        elif kind == "sample" and len(run.errors) < 2 * MAX_SAMPLES:
            run.errors.append(message[1])
        elif kind == "crash":
            run.crashes.append(message[1])
        elif kind == "done":
            done.add(message[1])

    def poll() -> list[int]:
        pids = benchapi.worker_pids(proc.pid)
        run.replaced |= set(pids) - set(run.workers)
        for pid, mb in rss_of(pids).items():
            run.peak[pid] = max(run.peak.get(pid, 0.0), mb)
        return pids

    time.sleep(max(0.0, start - time.monotonic()))
    meter = CpuMeter(
        {
            "gunicorn": lambda: benchapi.worker_pids(proc.pid),
            "postgres": backends,
            "clients": lambda: [client.pid for client in clients if client.pid],
        }
    )
    meter.poll()
    times = [
        start + k * args.sample_every
        for k in range(1, math.ceil(args.duration / args.sample_every))
    ]
    times = [at for at in times if at < end - 0.5] + [end]
    hard_end = end + REQUEST_TIMEOUT + 30
    last_at, next_poll, index = start, start + 1.0, 0
    while index < len(times):
        now = time.monotonic()
        final = index == len(times) - 1
        finished = len(done) == len(clients) or not any(c.is_alive() for c in clients)
        if now >= times[index] and (not final or finished or now > hard_end):
            while True:
                try:
                    handle(queue.get_nowait())
                except Empty:
                    break
            pids = poll()
            rss = rss_of(pids)
            seconds = now - last_at
            elapsed = (times[index] if not final else end) - start
            run.samples.append(Sample(elapsed=elapsed, rss=rss))
            r, b = window["r"], window["b"]
            batches = (
                f"batches {b.requests} ok {b.ok} errors {b.errors} "
                f"({sum(b.records.values())} records), "
                if args.batch_every
                else ""
            )
            print(
                f"sample t={elapsed:.0f}s: requests {r.requests} ok {r.ok} errors {r.errors} "
                f"late {r.late} skipped {r.skipped}, {r.requests / seconds:.1f} req/s "
                f"(target {rate:g}), p50={r.p(0.5) * 1e3:.1f}ms p99={r.p(0.99) * 1e3:.1f}ms, "
                f"{batches}rss MB "
                + ",".join(f"{pid}={mb:.1f}" for pid, mb in sorted(rss.items()))
                + f", pg backends {len(backends())}, {meter.take(seconds)}",
                flush=True,
            )
            run.redemptions.merge(r)
            run.batches.merge(b)
            window = {"r": Tally(), "b": Tally()}
            last_at = now
            index += 1
            continue
        if now >= next_poll:
            poll()
            meter.poll()
            next_poll = max(next_poll + 1.0, now + 0.5)
        wait = 0.2 if final and now >= times[index] else min(times[index], next_poll) - now
        with contextlib.suppress(Empty):
            handle(queue.get(timeout=max(0.01, wait)))
    run.unfinished = len(clients) - len(done)
    return run


def soak(
    args: argparse.Namespace,
    rate: float,
    n_vouchers: int,
    charges: int,
    needed: Decimal,
    env: dict[str, str],
) -> int:
    """Sets up, drives the load, prints the summary; the exit status."""
    database_url = env["DATABASE_URL"]
    t = time.perf_counter()
    if not benchapi.migrated_database(env, args.pg, args.database):
        return 1
    import psycopg
    from django.db import connections

    from vouchers.models import Redemption

    seeded = benchapi.seed(n_vouchers)
    connections.close_all()
    autovacuum = benchapi.vacuum_analyze(database_url)
    port = benchapi.free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp(prefix="bench-soak-")) / "gunicorn.log"
    print(
        f"setup: database {args.database}, {n_vouchers} vouchers of {VOUCHER_AMOUNT:,.0f} yuan "
        f"(the run charges about {charges:,} x {COVERED:.2f} = {needed:,.0f} yuan), autovacuum "
        f"{autovacuum}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
        f"({time.perf_counter() - t:.1f} s)",
        flush=True,
    )
    proc = benchapi.start_gunicorn(dict(env, CONN_MAX_AGE="60"), port, args.workers, log)
    clients: list[Any] = []
    monitor = None
    try:
        wait_until_up(proc, base_url, seeded.keys[0], log)
        monitor = watch = psycopg.connect(f"{args.pg}/postgres", autocommit=True)

        def backends() -> list[int]:
            rows = watch.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [args.database]
            ).fetchall()
            return [row[0] for row in rows]

        start_rss = rss_of(benchapi.worker_pids(proc.pid))
        print(
            f"load: {rate:g} signed redemptions/s for {args.duration:g} s from {args.clients} "
            f"clients (a slot every {args.clients / rate:.3f} s each), "
            + (
                f"a usage batch of {args.batch_size} records every {args.batch_every:g} s, "
                if args.batch_every
                else "no usage batches, "
            )
            + f"a sample every {args.sample_every:g} s; gunicorn {args.workers} sync workers at "
            f"{base_url}, recycling off, CONN_MAX_AGE=60, log {log}; worker rss MB before load "
            + ",".join(f"{pid}={mb:.1f}" for pid, mb in sorted(start_rss.items())),
            flush=True,
        )
        run = drive(args, rate, base_url, seeded, proc, backends, clients)
    finally:
        for client in clients:
            if client.is_alive():
                client.terminate()
                client.join(timeout=5)
        if monitor is not None:
            monitor.close()
        benchapi.stop_gunicorn(proc)

    reasons: list[str] = []
    r, b = run.redemptions, run.batches
    statuses = r.statuses + b.statuses
    errors = r.errors + b.errors
    sent_late = r.late
    skipped = run.scheduled - r.requests
    delivered = r.requests / run.scheduled if run.scheduled else 0.0
    print(
        f"total: requests {r.requests} (ok {r.ok}, errors {r.errors}), "
        f"{r.requests / args.duration:.1f} req/s of {rate:g} target, "
        f"p50={r.p(0.5) * 1e3:.1f}ms p99={r.p(0.99) * 1e3:.1f}ms "
        f"max={max(r.latencies, default=0) * 1e3:.0f}ms"
    )
    print(
        f"late slots: {sent_late + skipped} of {run.scheduled} ({sent_late} sent late, "
        f"{skipped} skipped), {delivered:.1%} of the slots sent (least {args.min_delivered:.0%})"
    )
    if delivered < args.min_delivered:
        reasons.append(f"{delivered:.1%} of the slots sent")
    if args.batch_every:
        print(
            f"batches: {b.requests} of {args.batch_size} records (ok {b.ok}, errors {b.errors}), "
            f"records captured {b.records['captured']}, not captured {b.rejected()}, "
            f"late {b.late}, skipped {b.skipped}, p50={b.p(0.5):.2f}s p99={b.p(0.99):.2f}s"
        )
        if b.rejected():
            reasons.append(f"{b.rejected()} batch records not captured")
    bad = {k: v for k, v in statuses.items() if not k.startswith("2")}
    print(
        "error responses: "
        + (", ".join(f"{k}x{v}" for k, v in sorted(bad.items())) if bad else "none")
    )
    if errors:
        reasons.append(f"{errors} error responses")
    for text in run.errors[:MAX_SAMPLES]:
        print(f"  sample error: {' '.join(text.split())[:400]}")
    for text in run.crashes:
        print(f"  client crash: {text.strip()[-600:]}")
    if run.crashes or run.unfinished:
        reasons.append(f"{len(run.crashes)} clients crashed, {run.unfinished} did not finish")

    first, last = run.samples[0], run.samples[-1]
    base = next(s for s in run.samples if s.elapsed >= 0.2 * args.duration)
    minutes = (last.elapsed - first.elapsed) / 60
    growths: list[float] = []
    for pid in run.workers:
        if any(pid not in s.rss for s in (first, base, last)):
            print(f"rss worker {pid}: gone during the run")
            continue
        at_first, at_base, at_last = first.rss[pid], base.rss[pid], last.rss[pid]
        growth = at_last - at_first
        growths.append(at_last - at_base)
        print(
            f"rss worker {pid}: first {at_first:.1f} MB (t={first.elapsed:.0f}s), "
            f"at 20% {at_base:.1f} (t={base.elapsed:.0f}s), last {at_last:.1f} "
            f"(t={last.elapsed:.0f}s), max {run.peak.get(pid, at_last):.1f}; "
            f"growth first→last {growth:+.1f} MB "
            f"({growth / minutes if minutes else 0.0:+.2f} MB/min), "
            f"20%→last {at_last - at_base:+.1f} MB (limit {args.max_growth_mb:g})"
        )
    if base is last:
        reasons.append("no sample between 20 % of the run and the end (lower --sample-every)")
    worst = max(growths, default=0.0)
    if run.replaced or len(growths) < len(run.workers):
        print(
            f"workers: {len(run.workers) - len(growths)} of {len(run.workers)} gone, "
            f"{len(run.replaced)} new ({', '.join(map(str, sorted(run.replaced)))})"
        )
        reasons.append("gunicorn workers replaced")
    print(
        f"memory: {'flat' if worst < args.max_growth_mb else 'NOT flat'} (largest growth from the "
        f"20% sample to the last {worst:+.1f} MB, limit {args.max_growth_mb:g} MB)"
    )
    if worst >= args.max_growth_mb:
        reasons.append(f"a worker grew {worst:.1f} MB")

    text = log.read_text(errors="replace")
    errors_5xx = len(re.findall(r'" 5\d\d ', text))
    timeouts = text.count("WORKER TIMEOUT")
    if errors_5xx or timeouts:
        print(f"gunicorn log: {errors_5xx} responses 5xx, {timeouts} worker timeouts (see {log})")

    applied = Redemption.objects.filter(platform_id=seeded.platform_id).count()
    seen = r.ok + b.records["captured"]
    print(
        f"ledger: {applied} redemptions, {seen} answered ok "
        f"({r.ok} single + {b.records['captured']} batch records)"
    )
    if applied != seen:
        reasons.append(f"{applied} redemptions in the ledger, {seen} answered ok")
    connections.close_all()
    sealed = benchapi.manage(env, "seal_audit", "--full-scan")
    if sealed.returncode != 0:
        print(f"seal_audit: exit {sealed.returncode} ({last_line(sealed)})")
        reasons.append(f"seal_audit exit {sealed.returncode}")
    for command in ("check_ledger", "verify_audit"):
        done = benchapi.manage(env, command)
        print(f"{command}: exit {done.returncode} ({last_line(done)})")
        if done.returncode != 0:
            reasons.append(f"{command} exit {done.returncode}")

    print("soak: PASS" if not reasons else f"soak: FAIL ({'; '.join(reasons)})")
    return 1 if reasons else 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Soak at a fixed rate (see the module docstring).")
    load = parser.add_mutually_exclusive_group(required=True)
    load.add_argument("--rate", type=float, help="signed redemptions per second to send")
    load.add_argument(
        "--capacity",
        type=float,
        help="measured capacity in req/s (bench/api.py 'redemptions c=8' on this machine); "
        "the rate is half of it",
    )
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load (600)")
    parser.add_argument("--clients", type=int, default=8, help="redemption client processes (8)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (3)")
    parser.add_argument(
        "--batch-every", type=float, default=10.0, help="a usage batch every N s (10; 0 = none)"
    )
    parser.add_argument("--batch-size", type=int, default=200, help="records per batch (200)")
    parser.add_argument(
        "--sample-every", type=float, default=30.0, help="a sample line every N s (30)"
    )
    parser.add_argument(
        "--vouchers", type=int, default=2000, help="vouchers to seed (2000, more if the run needs)"
    )
    parser.add_argument(
        "--max-growth-mb",
        type=float,
        default=10.0,
        help="largest RSS growth per worker from the 20%% sample to the last (10)",
    )
    parser.add_argument(
        "--min-delivered",
        type=float,
        default=0.95,
        help="least share of the timetable's slots actually sent (0.95)",
    )
    parser.add_argument("--database", default="bench_soak")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="server URL")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, benchapi._terminate)
    rate = args.rate if args.rate is not None else args.capacity / 2
    if not args.database.startswith("bench"):
        parser.error("--database must start with 'bench' (it is dropped and recreated)")
    if not 1 <= args.clients < benchapi.KEYS:
        parser.error(f"1 to {benchapi.KEYS - 1} clients (one key each, one more for batches)")
    if rate <= 0 or args.duration <= 0 or args.sample_every <= 0:
        parser.error("--rate (or --capacity), --duration and --sample-every must be positive")
    if args.batch_every and not 1 <= args.batch_size <= 1000:
        parser.error("--batch-size must be 1 to 1000 (the API's limit)")

    # Enough balance for the whole run, twice over: every charge covers
    # COVERED of a voucher, and the clients spread charges evenly over them.
    batches = int(args.duration // args.batch_every) if args.batch_every else 0
    charges = math.ceil(rate * args.duration) + batches * args.batch_size
    needed = charges * COVERED
    n_vouchers = max(args.vouchers, math.ceil(2 * needed / VOUCHER_AMOUNT))

    database_url = f"{args.pg}/{args.database}"
    env = benchapi.use_bench_environment(database_url)

    try:
        return soak(args, rate, n_vouchers, charges, needed, env)
    except KeyboardInterrupt:
        print("soak: interrupted")
        return 130
    finally:
        benchapi.drop_database(args.pg, args.database)


if __name__ == "__main__":
    sys.exit(main())
