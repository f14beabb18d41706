"""Throughput of the platform API against the raw SQL limit, in one run.

Usage (from the project root, PostgreSQL at 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/api.py            # full run: ~10 s per figure, 3,000 vouchers
    .venv/bin/python bench/api.py --quick    # smoke run: ~3 s per figure, 300 vouchers

What it does, in order:

1. Drops and recreates the database ``bench_vouchers`` (``--database``; only
   names starting with ``bench`` are accepted) and runs ``manage.py migrate``
   on it.
2. Seeds through the project's own services: a district, an enterprise pool,
   one compute platform, one CNY program (rate 0.30, a phase-down ending in an
   exit, bound to the platform, open), ``--vouchers`` vouchers of 10,000 yuan
   (``voucher_issue``), 5 "hot" vouchers of 1,000,000 yuan and 32 Ed25519 keys
   of the platform (``platform_key_register``), then ``VACUUM ANALYZE`` (fresh
   tables have no statistics, and autovacuum may be off; again after step 3).
3. (a) ``sql_limit``: runs one real ``voucher_redeem`` under Django's query
   capture, takes the statements of its transaction (redemption look-up,
   voucher ``SELECT ... FOR UPDATE``, phase-step read, INSERT redemption,
   INSERT ledger entry, INSERT audit event, UPDATE voucher) and replays those
   statement shapes with fresh parameters straight through psycopg, one
   process and connection per client, at 1, 8 and 32 concurrency, with the
   parameters bound as the app binds them (server-side, so psycopg prepares
   the statements, unless ``DATABASE_SERVER_SIDE_BINDING=false``); then
   ``batch_sql_limit``: what a 1,000-record usage batch does in the database
   (stored-reference look-up, phase steps, locks in id order, ids, three
   COPYs, one UPDATE), rows built from the captured redemption, at 1 and
   ``--batch-clients`` clients.
4. Starts gunicorn (``deploy/gunicorn.conf.py``, ``--workers`` sync workers,
   127.0.0.1 on a free port, development mode with DEBUG=false,
   ALLOWED_HOSTS=127.0.0.1, ``CONN_MAX_AGE`` as in ``deploy/env.example``,
   worker recycling off) and drives it from separate client processes signing
   with the stock ``requests-http-signature`` client; each client builds,
   serializes and signs its requests before the phase starts, so that the
   timed loop only sends them (their signing no longer takes the server's
   cores):
   (b) ``redemptions``: single ``POST /api/v1/redemptions`` at 1, 8 and 32
   clients, with req/s, p50, p99 and the ratio to (a) at the same concurrency;
   (c) ``usage_batches``: ``POST /api/v1/usage-batches`` of 1,000 records,
   captured records/s and the ratio to ``batch_sql_limit``, with an
   ``Idempotency-Key`` (as the reference client ``cv_client``
   sends them) from 1 and from ``--batch-clients`` clients, and without one
   from 1 client; then ``batch_write``: what one batch of 1,000 records
   writes, from 3 batches sent one at a time with nothing else running
   (``bench/write_cost.py``: WAL bytes, rows and index entries per table,
   function calls, PostgreSQL and server CPU, per record);
   (d) ``hot_spot``: 32 clients on 5 vouchers, then ``manage.py check_ledger``;
   (e) ``gunicorn_rss``: VmRSS of each worker after all that load.
5. Stops gunicorn (also on an error, Ctrl-C or SIGTERM).

Every redemption carries an ``Idempotency-Key`` and a unique ``reference``.
The client processes run on the same machine as gunicorn and PostgreSQL, so
each figure ends with where the CPU went meanwhile, in cores: clients,
gunicorn workers, PostgreSQL backends of the bench database, and "other"
(anything else on the machine; a large "other" means the figure is
disturbed). Any non-2xx answer (or rejected batch record) is counted and the
first few are printed with status and body, and the 5xx causes found in the
gunicorn log are summed up at the end.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import gc
import hashlib
import json
import math
import multiprocessing
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
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
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
BILLED = "10.00"
HOT_VOUCHERS = 5
KEYS = 32
FORK = multiprocessing.get_context("fork")
# How many requests an API client signs before its phase starts (api_client):
# single redemptions at up to 800 per second and client, usage batches at up
# to 25,000 records per second and client (25 batches of 1,000).
PRESIGN_REQUESTS_PER_SECOND = 800
PRESIGN_RECORDS_PER_SECOND = 25_000
# platforms/signatures.py accepts a signature whose ``created`` is at most
# PLATFORM_SIGNATURE_MAX_AGE = 300 s old (and at most
# PLATFORM_SIGNATURE_MAX_FUTURE = 30 s ahead of the server's clock; ours are
# never ahead: same machine, same clock). Pre-signing takes seconds (about a
# minute for 32 clients of a 10 s phase on 2 cores) and a phase lasts
# --duration seconds, so what is sent is well inside 300 s; a client still
# leaves its pre-signed requests unsent once the oldest is PRESIGNED_FRESH_FOR
# old and signs in the loop instead (the phase's line then says so).
PRESIGNED_FRESH_FOR = 240.0
BARRIER_TIMEOUT = 600.0  # pre-signing under load; PRESIGNED_FRESH_FOR guards the age


# ---------------------------------------------------------------------------
# Small helpers (no Django)
# ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / CLOCK_TICKS


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def now_shanghai() -> str:
    return datetime.datetime.now(SHANGHAI).isoformat(timespec="milliseconds")


@dataclass
class PhaseResult:
    """What the client processes of one measured phase report, summed."""

    elapsed: float = 0.0
    ok: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    client_cpu: float = 0.0
    records: Counter[str] = field(default_factory=Counter)
    window: float = 0.0
    machine_cpu: float = 0.0
    server_cpu: float = 0.0
    db_cpu: float = 0.0
    signed_in_loop: int = 0
    server_label: ClassVar[str] = "gunicorn"

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def cpu(self) -> str:
        """Where the CPU went during the phase, in cores (others = everything else on the machine)."""
        if not self.window:
            return ""
        parts = [("clients", self.client_cpu)]
        if self.server_cpu:
            parts.append((self.server_label, self.server_cpu))
        parts.append(("postgres", self.db_cpu))
        other = self.machine_cpu - sum(v for _k, v in parts)
        text = " + ".join(f"{k} {v / self.window:.2f}" for k, v in parts)
        return f" (cpu cores: {self.machine_cpu / self.window:.2f} = {text} + other {other / self.window:.2f})"

    def signing(self) -> str:
        """The requests the clients had to sign inside the timed loop (their
        pre-signed ones ran out, or got too old), if any."""
        return f", {self.signed_in_loop} signed in the loop" if self.signed_in_loop else ""

    def errors(self) -> str:
        bad = {k: v for k, v in self.statuses.items() if not k.startswith("2")}
        if not bad:
            return ""
        return " errors=" + ",".join(f"{k}x{v}" for k, v in sorted(bad.items()))


def run_clients(
    target: Any,
    args_of: list[tuple[Any, ...]],
    duration: float,
    server_pids: Any = None,
) -> PhaseResult:
    """Run ``target(*args, barrier, queue, duration)`` in one process per
    ``args_of`` entry; all start together; return their summed reports.

    ``server_pids()`` gives ``(gunicorn pids, postgres backend pids)`` whose
    CPU is counted over the phase."""
    barrier = FORK.Barrier(len(args_of) + 1)
    queue = FORK.Queue()
    procs = [
        FORK.Process(target=target, args=(*args, barrier, queue, duration), daemon=True)
        for args in args_of
    ]
    for proc in procs:
        proc.start()
    result = PhaseResult()
    # CPU seconds of each server process at the start of the phase and when
    # last seen (polled, so a process that exits meanwhile still counts).
    first: list[dict[int, float]] = [{}, {}]
    last: list[dict[int, float]] = [{}, {}]

    def poll(at_start: bool = False) -> None:
        if server_pids is None:
            return
        for i, group in enumerate(server_pids()):
            for pid in group:
                used = process_cpu(pid)
                if used is None:
                    continue
                first[i].setdefault(pid, used if at_start else 0.0)
                last[i][pid] = used

    try:
        # The API clients sign their requests before the barrier (api_client):
        # 32 clients of a 10 s phase take about a minute of a 2-core machine.
        barrier.wait(timeout=BARRIER_TIMEOUT)
        t0 = time.perf_counter()
        busy0 = machine_busy()
        poll(at_start=True)
        finished = 0.0
        reports = 0
        deadline = t0 + duration + 300
        while reports < len(procs):
            try:
                report = queue.get(timeout=0.5)
            except Empty:
                if time.perf_counter() > deadline:
                    raise RuntimeError("client processes did not report in time") from None
                poll()
                continue
            reports += 1
            finished = max(finished, report["finished"])
            result.ok += report["ok"]
            result.latencies.extend(report["latencies"])
            result.statuses.update(report["statuses"])
            result.records.update(report.get("records", {}))
            result.client_cpu += report["cpu"]
            result.db_cpu += report.get("db_cpu", 0.0)
            result.signed_in_loop += report.get("signed_in_loop", 0)
            result.samples.extend(report["samples"][: max(0, 3 - len(result.samples))])
        poll()
        result.elapsed = finished - t0
        result.machine_cpu = machine_busy() - busy0
        result.window = time.perf_counter() - t0
        gunicorn_cpu, db_cpu = (
            sum(last[i][pid] - first[i][pid] for pid in last[i]) for i in range(2)
        )
        result.server_cpu = gunicorn_cpu
        result.db_cpu += db_cpu
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    return result


def show_samples(label: str, result: PhaseResult) -> None:
    for sample in result.samples:
        print(f"  {label} sample error: {' '.join(sample.split())[:400]}")


# ---------------------------------------------------------------------------
# (a) The raw SQL of one redemption, replayed through psycopg
# ---------------------------------------------------------------------------


@dataclass
class Step:
    """One captured statement: its SQL and, per parameter, a role and the captured value."""

    sql: str
    table: str
    verb: str
    params: list[tuple[str, Any]]
    returning: bool = False
    locks: bool = False


@dataclass
class Template:
    steps: list[Step]
    covered: Decimal

    def describe(self) -> str:
        parts = []
        for step in self.steps:
            suffix = " FOR UPDATE" if step.locks else ""
            parts.append(f"{step.verb} {step.table}{suffix}")
        return "; ".join(parts)


_WRITE_TABLE = re.compile(r'^(INSERT INTO|UPDATE) "(\w+)"')
_FROM = re.compile(r' FROM "(\w+)"')
_INSERT_COLUMNS = re.compile(r'^INSERT INTO "\w+" \(([^)]*)\) VALUES', re.S)
_COLUMN_BEFORE = re.compile(r'"(\w+)"\s*=\s*$')
# An UPDATE ... FROM (VALUES (%s, ...)) AS d(id, balance, held): the columns of the values.
_VALUES_COLUMNS = re.compile(r"FROM \(VALUES \(.*\)\) AS \w+\(([^)]*)\)", re.S)
# Or ... FROM unnest(%s::bigint[], %s::numeric[], ...) AS d(id, balance, held):
# one array parameter per column (vouchers.queries.save_amounts).
_UNNEST_COLUMNS = re.compile(r"FROM unnest\([^)]*\) AS \w+\(([^)]*)\)", re.S)


def _plain(value: Any) -> Any:
    """A picklable form of a captured parameter (JSON values are tagged)."""
    from psycopg.types.json import Jsonb

    if isinstance(value, Jsonb):
        return ("__jsonb__", value.obj)
    if hasattr(value, "value") and isinstance(value, str):  # TextChoices
        return str(value.value)
    return value


def _role(verb: str, table: str, column: str | None, value: Any, captured: dict[str, Any]) -> str:
    """What a captured parameter stands for, so a replay can give it a fresh value."""
    if isinstance(value, str) and value == captured["reference"]:
        return "reference"
    if isinstance(value, str) and value == captured["code"]:
        return "code"
    if column in ("occurred_at", "created_at"):
        return "now"
    if column == "voucher_id" or (verb == "UPDATE" and column == "id"):
        return "voucher_id"
    if column == "enterprise_id":
        return "enterprise_id"
    if column == "balance" and verb == "UPDATE":
        return "balance_new"
    if column in ("held", "held_after"):
        return "held"
    if column == "balance_after":
        return "available_after" if table == "vouchers_redemption" else "balance_new"
    if column == "request_fingerprint":
        return "fingerprint"
    if column == "redemption_id":
        return "returned:vouchers_redemption"
    if column == "object_id" and value == str(captured["entry_id"]):
        return "returned_str:vouchers_ledgerentry"
    if column == "after" and table == "audit_auditevent":
        return "audit_after"
    return "keep"


def _verb_and_table(sql: str) -> tuple[str, str]:
    """("SELECT", table of the outermost FROM), ("INSERT", table) or ("UPDATE", table)."""
    match = _WRITE_TABLE.match(sql)
    if match:
        return match.group(1).split()[0], match.group(2)
    if sql.startswith("SELECT "):
        for found in _FROM.finditer(sql):
            before = sql[: found.start()]
            if before.count("(") == before.count(")"):
                return "SELECT", found.group(1)
    raise RuntimeError(f"unexpected statement in a redemption: {sql[:120]}")


def build_template(calls: list[tuple[str, Any]], captured: dict[str, Any]) -> Template:
    steps = []
    covered = None
    for sql, params in calls:
        verb, table = _verb_and_table(sql)
        params = list(params or [])
        inserted = _INSERT_COLUMNS.match(sql)
        values = _VALUES_COLUMNS.search(sql) or _UNNEST_COLUMNS.search(sql)
        if verb == "INSERT" and inserted:
            cols: list[str | None] = list(re.findall(r'"(\w+)"', inserted.group(1)))
        elif verb == "UPDATE" and values:
            cols = [name.strip() for name in values.group(1).split(",")]
        else:
            cols = []
            pos = 0
            for _ in params:
                pos = sql.index("%s", pos)
                before = _COLUMN_BEFORE.search(sql[:pos])
                cols.append(before.group(1) if before else None)
                pos += 2
        if len(cols) != len(params):
            raise RuntimeError(f"cannot map the parameters of: {sql[:120]}")
        roles = [
            (_role(verb, table, col, value, captured), _plain(value))
            for col, value in zip(cols, params, strict=True)
        ]
        if verb == "INSERT" and table == "vouchers_redemption":
            covered = dict(zip(cols, params, strict=True))["covered"]
        steps.append(
            Step(
                sql=sql,
                table=table,
                verb=verb,
                params=roles,
                returning=" RETURNING " in sql,
                locks="FOR UPDATE" in sql,
            )
        )
    if covered is None or not any(step.locks for step in steps):
        raise RuntimeError("the captured redemption has no voucher lock or no redemption insert")
    return Template(steps=steps, covered=Decimal(covered))


def fresh_value(role: str, value: Any, state: dict[str, Any], now: datetime.datetime) -> Any:
    """A replayed statement's parameter: the captured value, or a fresh one
    for its role (``_role``) from ``state`` (code, reference, ids, amounts)."""
    from psycopg.types.json import Jsonb

    if isinstance(value, list) and role != "keep":
        # An array parameter of one element per row (unnest): this row's.
        return [fresh_value(role, value[0] if value else None, state, now)]
    if role == "keep":
        tagged = isinstance(value, tuple) and value[:1] == ("__jsonb__",)
        return Jsonb(value[1]) if tagged else value
    if role == "now":
        return now
    if role == "fingerprint":
        return hashlib.sha256(state["reference"].encode()).hexdigest()
    if role.startswith("returned_str:"):
        return str(state[role.partition(":")[2]])
    if role.startswith("returned:"):
        return state[role.partition(":")[2]]
    if role == "audit_after":
        # JSON as the app sends it: text (common.bulk) or psycopg's Jsonb.
        text = isinstance(value, str)
        after = json.loads(value) if text else dict(value[1])
        after.update(
            voucher=state["code"],
            reference=state["reference"],
            balance_after=str(state["balance_new"]),
            held_after=str(state["held"]),
        )
        return json.dumps(after) if text else Jsonb(after)
    return state[role]


def replay_once(
    cur: Any, template: Template, code: str, reference: str, index: dict[str, int]
) -> None:

    state: dict[str, Any] = {"code": code, "reference": reference}
    now = datetime.datetime.now(datetime.UTC)
    for step in template.steps:
        params = [fresh_value(role, value, state, now) for role, value in step.params]
        cur.execute(step.sql, params)
        if step.locks:
            row = cur.fetchone()
            if row is None:
                raise RuntimeError(f"voucher {code} not found")
            if not index:
                names = [col.name for col in cur.description]
                for name in ("id", "enterprise_id", "balance", "held"):
                    index[name] = names.index(name)
            balance, held = row[index["balance"]], row[index["held"]]
            state["voucher_id"] = row[index["id"]]
            state["enterprise_id"] = row[index["enterprise_id"]]
            state["held"] = held
            state["balance_new"] = balance - template.covered
            state["available_after"] = balance - held - template.covered
        elif step.returning:
            state[step.table] = cur.fetchone()[0]
        elif step.verb == "SELECT":
            cur.fetchall()


def _replay_client(dsn: str, run: Any, barrier: Any, queue: Any, duration: float) -> None:
    """Call ``run(cursor, n)`` (one transaction, returning the records it
    wrote) in a loop for ``duration`` seconds on one psycopg connection, and
    report like the API clients."""
    import psycopg
    from django.conf import settings

    _client_signals()
    report: dict[str, Any] = {
        "ok": 0,
        "latencies": [],
        "statuses": Counter(),
        "samples": [],
        "records": Counter(),
    }
    try:
        # Bound as the app binds them (config/settings.py): server-side, so
        # psycopg prepares each statement after its 5th run, as it does on
        # a gunicorn worker's persistent connection; or client-side.
        server_side = settings.DATABASES["default"].get("OPTIONS", {}).get("server_side_binding")
        conn = psycopg.connect(
            dsn,
            cursor_factory=psycopg.Cursor if server_side else psycopg.ClientCursor,
            options="-c TimeZone=UTC",
        )
        backend = conn.info.backend_pid
        barrier.wait()
        cpu0, start = cpu_seconds(), time.perf_counter()
        db0 = process_cpu(backend) or 0.0
        end = start + duration
        n = 0
        while time.perf_counter() < end:
            n += 1
            t = time.perf_counter()
            try:
                with conn.cursor() as cur:
                    written = run(cur, n)
                conn.commit()
                report["ok"] += 1
                report["statuses"]["2xx"] += 1
                if written:
                    report["records"]["captured"] += written
            except psycopg.Error as exc:
                conn.rollback()
                report["statuses"][type(exc).__name__] += 1
                if len(report["samples"]) < 3:
                    report["samples"].append(f"{type(exc).__name__}: {exc}")
            report["latencies"].append(time.perf_counter() - t)
        report["db_cpu"] = (process_cpu(backend) or db0) - db0
        conn.close()
    except Exception:  # reported to the parent
        report["samples"].append(traceback.format_exc(limit=3))
        report["statuses"]["client_crash"] += 1
        cpu0 = cpu_seconds()
    report["cpu"] = cpu_seconds() - cpu0
    report["finished"] = time.perf_counter()
    queue.put(report)


def sql_client(
    dsn: str,
    template: Template,
    codes: list[str],
    name: str,
    barrier: Any,
    queue: Any,
    duration: float,
) -> None:
    """Single redemptions' SQL straight through psycopg, one transaction each."""
    index: dict[str, int] = {}

    def run(cur: Any, n: int) -> None:
        replay_once(cur, template, secrets.choice(codes), f"{name}-{n}", index)

    _replay_client(dsn, run, barrier, queue, duration)


_LOCK_ONE = re.compile(
    r'WHERE "vouchers_voucher"\."code" = %s (?:ORDER BY .* )?LIMIT 1 FOR UPDATE OF "vouchers_voucher"$',
    re.S,
)


def _batch_statements(template: Template) -> dict[str, Any]:
    """The statements of a usage batch, from those of one redemption: the
    voucher lock on every code at once in id order, the one phase-step read,
    and per table the columns and the captured row of its INSERT (sent by
    COPY, as ``common.bulk.copy_insert`` sends them)."""
    lock = next(step for step in template.steps if step.locks)
    lock_sql, found = _LOCK_ONE.subn(
        'WHERE "vouchers_voucher"."code" = ANY(%s) ORDER BY "vouchers_voucher"."id" '
        'FOR UPDATE OF "vouchers_voucher"',
        lock.sql,
    )
    if found != 1:
        raise RuntimeError(f"unexpected voucher lock: {lock.sql[-200:]}")
    rows = {}
    for step in template.steps:
        if step.verb == "INSERT":
            columns = re.findall(r'"(\w+)"', _INSERT_COLUMNS.match(step.sql).group(1))
            rows[step.table] = (["id", *columns], step.params)
    # A signed body as a batch's: 1,000 records with their own references
    # (kept once per batch, TOAST-compressed as the app's are).
    records = [
        redemption_body(f"CODE{secrets.token_hex(7)}", uuid.uuid4().hex) for _ in range(1000)
    ]
    return {
        "lock": (lock_sql, [value for _role, value in lock.params]),
        "steps": [step for step in template.steps if step.verb == "SELECT" and not step.locks],
        "rows": rows,
        "commit": _commit_rows(template) if COMMIT_SHAPE else None,
        "body": json.dumps({"records": records}).encode(),
    }


def replay_batch(
    cur: Any, template: Template, batch: dict[str, Any], codes: list[str], name: str
) -> int:
    """One usage batch's SQL: the reference check, the locks, the phase steps,
    ids from the three sequences, three COPYs and one UPDATE of the balances.
    Returns the records written. (What it leaves out — the signature nonce,
    the Idempotency-Key and the stored body — are a few rows per batch.)"""

    references = [f"{name}-{i}" for i in range(len(codes))]
    reference_step, phase_step = batch["steps"][0], batch["steps"][-1]
    platform_id = next(v for r, v in reference_step.params if r == "keep")
    from vouchers.queries import EXISTING_REFERENCES_SQL

    cur.execute(EXISTING_REFERENCES_SQL, [sorted(references), platform_id])
    cur.fetchall()
    lock_sql, lock_params = batch["lock"]
    cur.execute(lock_sql, [*lock_params[:-1], sorted(set(codes))])
    names = [col.name for col in cur.description]
    at = {n: names.index(n) for n in ("id", "code", "enterprise_id", "balance", "held")}
    vouchers = {row[at["code"]]: list(row) for row in cur.fetchall()}
    cur.execute(phase_step.sql, [value for _role, value in phase_step.params])
    cur.fetchall()
    ids = {}
    for table in batch["rows"]:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(codes)],
        )
        ids[table] = sorted(row[0] for row in cur.fetchall())
    now = datetime.datetime.now(datetime.UTC)
    rows: dict[str, list[list[Any]]] = {table: [] for table in batch["rows"]}
    for i, (code, reference) in enumerate(zip(codes, references, strict=True)):
        voucher = vouchers[code]
        voucher[at["balance"]] -= template.covered
        state = {
            "code": code,
            "reference": reference,
            "voucher_id": voucher[at["id"]],
            "enterprise_id": voucher[at["enterprise_id"]],
            "held": voucher[at["held"]],
            "balance_new": voucher[at["balance"]],
            "available_after": voucher[at["balance"]] - voucher[at["held"]],
            "vouchers_redemption": ids["vouchers_redemption"][i],
            "vouchers_ledgerentry": ids["vouchers_ledgerentry"][i],
        }
        for table, (_columns, params) in batch["rows"].items():
            row = [ids[table][i], *(fresh_value(r, v, state, now) for r, v in params)]
            rows[table].append(row)
    for table, (columns, _params) in batch["rows"].items():
        quoted = ", ".join(f'"{c}"' for c in columns)
        with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            for row in rows[table]:
                copy.write_row(row)
    changed = list(vouchers.values())
    cur.execute(
        'UPDATE "vouchers_voucher" AS v SET balance = d.balance, held = d.held FROM (VALUES '  # noqa: S608 - placeholders only
        + ", ".join(["(%s, %s::numeric, %s::numeric)"] * len(changed))
        + ") AS d(id, balance, held) WHERE v.id = d.id",
        [x for v in changed for x in (v[at["id"]], v[at["balance"]], v[at["held"]])],
    )
    return len(codes)


# The app's batch write since issue 18 (audit.commitments present): each
# record a redemption and a ledger entry, both by COPY; one audit event per
# batch committing the entries (a Merkle root over their leaves); the signed
# request kept once. Older checkouts write one audit event per record
# (replay_batch above), which the "before" run of a comparison replays.
COMMIT_SHAPE = (ROOT / "audit" / "commitments.py").exists()
LEAF_BYTES = 32


def _copy_text(value: Any) -> str:
    """A value in COPY's text format (the few types the replayed rows hold)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, tuple) and value[:1] == ("__jsonb__",):
        value = json.dumps(value[1])
    elif isinstance(value, dict | list):
        value = json.dumps(value)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _commit_rows(template: Template) -> dict[str, Any]:
    """Per table of the commit shape, its COPY header and, per column, either
    the constant text of every row or the role to take from the row's state;
    and the captured audit event's INSERT, replayed once per batch."""
    rows = {}
    audit = None
    for step in template.steps:
        if step.verb != "INSERT":
            continue
        if step.table == "audit_auditevent":
            audit = step
            continue
        columns = re.findall(r'"(\w+)"', _INSERT_COLUMNS.match(step.sql).group(1))
        cells: list[tuple[str, Any]] = []
        for column, (role, value) in zip(columns, step.params, strict=True):
            if column == "request_evidence":
                # The redemption names its request (key and body hash); the
                # ledger entry has none: the evidence is kept once per batch.
                cells.append(
                    ("evidence", None) if step.table == "vouchers_redemption" else ("const", "\\N")
                )
            elif role == "keep":
                cells.append(("const", _copy_text(value)))
            else:
                cells.append((role, None))
        rows[step.table] = (["id", *columns], cells)
    if audit is None:
        raise RuntimeError("the captured redemption wrote no audit event")
    return {"rows": rows, "audit": audit}


def replay_batch_commit(
    cur: Any, template: Template, batch: dict[str, Any], codes: list[str], name: str
) -> int:
    """One usage batch's SQL as the app writes it now: the reference check, the
    phase steps (before the locks, as the app), the locks, ids from two
    sequences, two COPYs, one audit event
    with the batch's commitment (leaves of 32 bytes, base64), the signed body
    kept once, one UPDATE of the balances. Rows are built from text templates
    (constants formatted once): the replay's Python stays small beside the
    server's work. Returns the records written."""
    from psycopg.types.json import Jsonb

    from vouchers.queries import EXISTING_REFERENCES_SQL

    n = len(codes)
    references = [f"{name}-{i}" for i in range(n)]
    reference_step, phase_step = batch["steps"][0], batch["steps"][-1]
    platform_id = next(v for r, v in reference_step.params if r == "keep")
    cur.execute(EXISTING_REFERENCES_SQL, [sorted(references), platform_id])
    cur.fetchall()
    # As the app does: the phase steps (they do not depend on the vouchers'
    # amounts) before the vouchers are locked; the ids only once they are —
    # a voucher's entries must take their ids in the order they are applied
    # (``check_ledger`` sums each voucher's entries in id order).
    cur.execute(phase_step.sql, [value for _role, value in phase_step.params])
    cur.fetchall()
    lock_sql, lock_params = batch["lock"]
    cur.execute(lock_sql, [*lock_params[:-1], sorted(set(codes))])
    names = [col.name for col in cur.description]
    at = {k: names.index(k) for k in ("id", "code", "enterprise_id", "balance", "held")}
    vouchers = {row[at["code"]]: list(row) for row in cur.fetchall()}
    shape = batch["commit"]
    ids = {}
    for table in shape["rows"]:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, n],
        )
        ids[table] = sorted(row[0] for row in cur.fetchall())
    body_sha = hashlib.sha256(name.encode()).hexdigest()
    evidence = _copy_text({"key_id": "bench-key", "body_sha256": body_sha})
    now = _copy_text(datetime.datetime.now(datetime.UTC))
    covered = template.covered
    lines: dict[str, list[str]] = {table: [] for table in shape["rows"]}
    redemption_ids = ids["vouchers_redemption"]
    for i, (code, reference) in enumerate(zip(codes, references, strict=True)):
        voucher = vouchers[code]
        voucher[at["balance"]] -= covered
        balance, held = voucher[at["balance"]], voucher[at["held"]]
        state = {
            "reference": reference,
            "voucher_id": str(voucher[at["id"]]),
            "now": now,
            "held": str(held),
            "balance_new": str(balance),
            "available_after": str(balance - held),
            "fingerprint": hashlib.sha256(reference.encode()).hexdigest(),
            "returned:vouchers_redemption": str(redemption_ids[i]),
            "evidence": evidence,
        }
        for table, (_columns, cells) in shape["rows"].items():
            lines[table].append(
                "\t".join(
                    [
                        str(ids[table][i]),
                        *(text if role == "const" else state[role] for role, text in cells),
                    ]
                )
            )
    for table, (columns, _cells) in shape["rows"].items():
        quoted = ", ".join(f'"{c}"' for c in columns)
        with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            copy.write("\n".join(lines[table]) + "\n")
    audit = shape["audit"]
    leaves = secrets.token_bytes(LEAF_BYTES * n)
    entry_ids = ids["vouchers_ledgerentry"]
    after = {
        "kind": "vouchers.ledgerentry",
        "algorithm": "sha256",
        "count": n,
        "ids": [[entry_ids[0], entry_ids[-1]]],
        "leaves": base64.b64encode(leaves).decode("ascii"),
        "root": hashlib.sha256(leaves).hexdigest(),
    }
    first = vouchers[codes[0]]
    event_state = {
        "code": codes[0],
        "reference": name,
        "voucher_id": first[at["id"]],
        "enterprise_id": first[at["enterprise_id"]],
        "held": first[at["held"]],
        "balance_new": first[at["balance"]],
        "available_after": first[at["balance"]] - first[at["held"]],
        "vouchers_ledgerentry": entry_ids[0],
        "vouchers_redemption": redemption_ids[0],
    }
    params = []
    for role, value in audit.params:
        if role == "audit_after":
            params.append(json.dumps(after) if isinstance(value, str) else Jsonb(after))
        else:
            params.append(
                fresh_value(role, value, event_state, datetime.datetime.now(datetime.UTC))
            )
    cur.execute(audit.sql, params)
    # The signed body, kept once per batch (a body of ~170 bytes per record).
    cur.execute(
        "INSERT INTO platforms_signedrequestbody (sha256, platform_id, body, evidence, "
        "received_at) VALUES (%s, %s, %s, %s, now())",
        [body_sha, platform_id, batch["body"], Jsonb({"key_id": "bench-key", "sig": name})],
    )
    changed = list(vouchers.values())
    cur.execute(
        'UPDATE "vouchers_voucher" AS v SET balance = d.balance, held = d.held '
        "FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) AS d(id, balance, held) "
        "WHERE v.id = d.id",
        [
            [v[at["id"]] for v in changed],
            [v[at["balance"]] for v in changed],
            [v[at["held"]] for v in changed],
        ],
    )
    return n


def batch_sql_client(
    dsn: str,
    template: Template,
    batch: dict[str, Any],
    codes: list[str],
    name: str,
    batch_size: int,
    barrier: Any,
    queue: Any,
    duration: float,
) -> None:
    """Usage batches' SQL straight through psycopg, one transaction per batch,
    each record on a random voucher of ``codes`` (as the API batch client)."""

    def run(cur: Any, n: int) -> int:
        picked = [secrets.choice(codes) for _ in range(batch_size)]
        replay = replay_batch_commit if COMMIT_SHAPE else replay_batch
        return replay(cur, template, batch, picked, f"{name}-{n}")

    _replay_client(dsn, run, barrier, queue, duration)


# ---------------------------------------------------------------------------
# (b)-(d) Signed API clients
# ---------------------------------------------------------------------------


def redemption_body(code: str, reference: str) -> dict[str, Any]:
    return {
        "voucher": code,
        "reference": reference,
        "occurred_at": now_shanghai(),
        "billed_amount": BILLED,
        "currency": "CNY",
    }


def batch_body(codes: list[str], prefix: str, batch_size: int) -> dict[str, Any]:
    """A usage batch of ``batch_size`` records on random vouchers of ``codes``,
    references ``{prefix}-0`` ... (unique per record)."""
    return {
        "records": [
            redemption_body(secrets.choice(codes), f"{prefix}-{i}") for i in range(batch_size)
        ]
    }


def signed_request(auth: Any, url: str, body: Any, idempotency_key: bool) -> Any:
    """``POST url`` with ``body`` serialized to JSON bytes and signed by ``auth``
    (a stock ``HTTPSignatureAuth``: a fresh nonce and ``created`` each time),
    with its own ``Idempotency-Key`` when asked: ready for ``Session.send``."""
    import requests

    headers = {"Content-Type": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    prepared = requests.Request("POST", url, data=json.dumps(body).encode(), headers=headers)
    return auth(prepared.prepare())


def presign_count(kind: str, duration: float, batch_size: int) -> int:
    """Requests a client of ``kind`` signs before its phase of ``duration`` s."""
    per_second = float(PRESIGN_REQUESTS_PER_SECOND)
    if kind.startswith("batch"):
        per_second = min(per_second, PRESIGN_RECORDS_PER_SECOND / max(1, batch_size))
    return math.ceil(duration * per_second)


def api_client(
    kind: str,
    base_url: str,
    key_id: str,
    private_pem: bytes,
    codes: list[str],
    name: str,
    batch_size: int,
    barrier: Any,
    queue: Any,
    duration: float,
) -> None:
    """Signed API requests of ``kind`` (``redeem``, ``batch``,
    ``batch-without-key``) for ``duration`` s. The bodies are built, serialized
    and signed before the barrier (``presign_count`` of them), so the timed
    loop only sends them and reads the answers; if they run out (or get too
    old, PRESIGNED_FRESH_FOR) it signs more itself and reports how many."""
    import requests
    from requests_http_signature import HTTPSignatureAuth, algorithms

    _client_signals()
    report: dict[str, Any] = {
        "ok": 0,
        "latencies": [],
        "statuses": Counter(),
        "samples": [],
        "records": Counter(),
        "signed_in_loop": 0,
    }
    session = requests.Session()
    auth = HTTPSignatureAuth(
        signature_algorithm=algorithms.ED25519, key=private_pem, key_id=key_id, use_nonce=True
    )
    batch = kind.startswith("batch")
    path = "usage-batches" if batch else "redemptions"
    url = f"{base_url}/api/v1/{path}"
    with_key = kind != "batch-without-key"
    n = 0

    def next_request() -> Any:
        nonlocal n
        n += 1
        if batch:
            body = batch_body(codes, f"{name}-{n}", batch_size)
        else:
            body = redemption_body(secrets.choice(codes), f"{name}-{n}")
        return signed_request(auth, url, body, with_key)

    try:
        try:
            signed_at = time.time()
            presigned = [next_request() for _ in range(presign_count(kind, duration, batch_size))]
            # Keep the collector from walking these objects during the phase.
            gc.collect()
            gc.freeze()
        finally:
            barrier.wait()  # also when signing failed: the others run, this one reports
        cpu0, start = cpu_seconds(), time.perf_counter()
        end = start + duration
        sent = 0
        while time.perf_counter() < end:
            if sent < len(presigned) and time.time() - signed_at < PRESIGNED_FRESH_FOR:
                prepared = presigned[sent]
                sent += 1
            else:
                prepared = next_request()
                report["signed_in_loop"] += 1
            t = time.perf_counter()
            try:
                response = session.send(prepared, timeout=120)
            except requests.RequestException as exc:
                report["latencies"].append(time.perf_counter() - t)
                report["statuses"][type(exc).__name__] += 1
                if len(report["samples"]) < 3:
                    report["samples"].append(f"{type(exc).__name__}: {exc}")
                continue
            report["latencies"].append(time.perf_counter() - t)
            status = response.status_code
            report["statuses"][str(status)] += 1
            if 200 <= status < 300:
                report["ok"] += 1
                if batch:
                    for result in response.json().get("results", []):
                        report["records"][result.get("status", "?")] += 1
                        if result.get("status") == "rejected" and len(report["samples"]) < 3:
                            report["samples"].append(
                                f"record rejected: {json.dumps(result, ensure_ascii=False)[:400]}"
                            )
            elif len(report["samples"]) < 3:
                report["samples"].append(f"{status} {response.text[:400]}")
    except Exception:  # reported to the parent
        report["samples"].append(traceback.format_exc(limit=3))
        report["statuses"]["client_crash"] += 1
        cpu0 = cpu_seconds()
    report["cpu"] = cpu_seconds() - cpu0
    report["finished"] = time.perf_counter()
    queue.put(report)


# ---------------------------------------------------------------------------
# Database, seeding and capture (Django)
# ---------------------------------------------------------------------------


def use_bench_environment(database_url: str) -> dict[str, str]:
    """The environment of the bench's Django and gunicorn: this process's, on
    ``database_url``, in development mode with DEBUG off and no broker or shared
    cache (unless a command adds them); also made this process's own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_MODE", "CELERY_BROKER_URL", "CACHE_URL")
    }
    env.update(
        DATABASE_URL=database_url,
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    os.environ.clear()
    os.environ.update(env)
    return env


def drop_database(server_url: str, name: str) -> None:
    """Close this process's Django connections (if Django is set up) and drop ``name``."""
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: S110 - Django may not be set up yet
        pass
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def recreate_database(admin_dsn: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def migrated_database(env: dict[str, str], server_url: str, name: str) -> bool:
    """Drop and recreate database ``name`` on ``server_url``, migrate it, and set
    Django up in this process on it (``env`` from :func:`use_bench_environment`).
    False, with migrate's output on stderr, when the migration fails."""
    recreate_database(f"{server_url}/postgres", name)
    migrated = manage(env, "migrate", "--no-input", "-v0")
    if migrated.returncode != 0:
        print(migrated.stdout, migrated.stderr, file=sys.stderr)
        return False
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return True


def vacuum_analyze(dsn: str) -> str:
    """VACUUM ANALYZE the bench database (fresh tables have no statistics, and
    autovacuum may be off); returns the server's autovacuum setting."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        row = conn.execute("SHOW autovacuum").fetchone()
    return str(row[0]) if row else "?"


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@dataclass
class Seed:
    platform_id: int
    codes: list[str]
    hot_codes: list[str]
    keys: list[tuple[str, bytes]]


def _uscc(n: int) -> str:
    from accounts.uscc import check_character

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    serial = ""
    for _ in range(7):
        serial = alphabet[n % len(alphabet)] + serial
        n //= len(alphabet)
    first17 = f"91420103MA{serial}"
    return first17 + check_character(first17)


def seed(n_vouchers: int) -> Seed:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.conf import settings
    from django.db import transaction

    from accounts.models import ComputePlatform, District, Enterprise
    from audit.services import Actor, audit_seal_pending
    from platforms.services import platform_key_register
    from programs.models import PhaseStep, Program
    from vouchers.services import voucher_issue

    actor = Actor.system("bench")
    # Seal once at the end instead of after each of thousands of commits.
    seal_after_commit = settings.AUDIT_SEAL_AFTER_COMMIT
    settings.AUDIT_SEAL_AFTER_COMMIT = False
    district, _created = District.objects.get_or_create(
        code="420103", defaults={"name": "江汉区", "name_en": "Jianghan District"}
    )
    platform = ComputePlatform.objects.create(
        slug="bench-platform", name="压测算力平台", name_en="Bench platform", operator="压测运营"
    )
    enterprises = [
        Enterprise.objects.create(
            name=f"武汉压测科技有限公司{i}",
            uscc=_uscc(i + 1),
            legal_representative="陈立华",
            contact_name="周敏",
            contact_phone="027-0000-0000",
            contact_email=f"bench{i}@example.com",
            headcount=30,
            prior_year_revenue=Decimal("8000000"),
            local_tax_paid=Decimal("400000"),
            industry=Enterprise.Industry.INFORMATION,
            founded_on=datetime.date(2019, 5, 14),
            status=Enterprise.Status.VERIFIED,
        )
        for i in range(50)
    ]
    today = datetime.datetime.now(SHANGHAI).date()
    program = Program.objects.create(
        district=district,
        name="江汉区算力券（压测）",
        name_en="Jianghan Compute Vouchers (bench)",
        kind=Program.Kind.COMPUTE,
        unit=Program.Unit.CNY,
        total_budget=Decimal("1000000000.00"),
        per_enterprise_cap=Decimal("1000000000.00"),
        per_charge_cap=None,
        base_rate=Decimal("0.30"),
        application_opens_on=today - datetime.timedelta(days=30),
        application_closes_on=today + datetime.timedelta(days=700),
        voucher_validity_days=365,
    )
    PhaseStep.objects.create(
        program=program, starts_on=today + datetime.timedelta(days=800), rate=Decimal("0.20")
    )
    PhaseStep.objects.create(
        program=program, starts_on=today + datetime.timedelta(days=1500), rate=Decimal("0")
    )
    Program.objects.filter(pk=program.pk).update(status=Program.Status.OPEN)
    program.refresh_from_db()
    program.platforms.add(platform)

    def issue(i: int, amount: str) -> str:
        return voucher_issue(
            actor=actor,
            program=program,
            enterprise=enterprises[i % len(enterprises)],
            amount=Decimal(amount),
            from_reservation=False,
        ).code

    codes: list[str] = []
    for start in range(0, n_vouchers, 250):
        with transaction.atomic():
            codes += [issue(i, "10000.00") for i in range(start, min(n_vouchers, start + 250))]
    with transaction.atomic():
        hot = [issue(i, "1000000.00") for i in range(HOT_VOUCHERS)]
    keys = []
    for i in range(KEYS):
        private = Ed25519PrivateKey.generate()
        private_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        key = platform_key_register(
            actor=actor, platform=platform, public_key_pem=public_pem, label=f"bench {i}"
        )
        keys.append((key.key_id, private_pem))
    audit_seal_pending(full_scan=True)
    settings.AUDIT_SEAL_AFTER_COMMIT = seal_after_commit
    return Seed(platform_id=platform.pk, codes=codes, hot_codes=hot, keys=keys)


def capture_redemption(seeded: Seed, base_url: str) -> Template:
    """One real ``voucher_redeem`` under Django's query capture, as a replayable template."""
    import requests
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from requests_http_signature import HTTPSignatureAuth, algorithms

    from accounts.models import ComputePlatform
    from audit.services import Actor
    from vouchers.models import LedgerEntry
    from vouchers.services import voucher_redeem

    key_id, pem = seeded.keys[0]
    code, reference = seeded.codes[0], "bench-capture-" + uuid.uuid4().hex
    body = json.dumps(redemption_body(code, reference)).encode()
    # Evidence shaped like the API's: the headers of a really signed request.
    signed = requests.Request(
        "POST",
        f"{base_url}/api/v1/redemptions",
        data=body,
        headers={"Content-Type": "application/json"},
    ).prepare()
    HTTPSignatureAuth(
        signature_algorithm=algorithms.ED25519, key=pem, key_id=key_id, use_nonce=True
    )(signed)
    evidence = {
        "key_id": key_id,
        "signature_input": signed.headers["Signature-Input"],
        "signature": signed.headers["Signature"],
        "content_digest": signed.headers.get("Content-Digest"),
        "method": "POST",
        "target_uri": signed.url,
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    platform = ComputePlatform.objects.get(pk=seeded.platform_id)
    actor = Actor.platform_key(key_id, source_ip="127.0.0.1", evidence=evidence)
    calls: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        calls.append((sql, params))
        return execute(sql, params, many, context)

    seal_after_commit = settings.AUDIT_SEAL_AFTER_COMMIT
    settings.AUDIT_SEAL_AFTER_COMMIT = False  # the sealer runs after commit, not in the charge
    try:
        with CaptureQueriesContext(connection) as logged, connection.execute_wrapper(record):
            result = voucher_redeem(
                actor=actor,
                platform=platform,
                reference=reference,
                occurred_at=timezone.now(),
                voucher_code=code,
                billed_amount=Decimal(BILLED),
                request_evidence=evidence,
            )
    finally:
        settings.AUDIT_SEAL_AFTER_COMMIT = seal_after_commit
    logged_sql = [query["sql"] for query in logged.captured_queries]
    if logged_sql[0] != "BEGIN" or logged_sql[-1] != "COMMIT" or len(logged_sql) != len(calls) + 2:
        raise RuntimeError(f"expected one transaction, got {logged_sql!r}")
    entry = LedgerEntry.objects.get(redemption_id=result.id)
    return build_template(calls, {"reference": reference, "code": code, "entry_id": entry.pk})


# ---------------------------------------------------------------------------
# gunicorn
# ---------------------------------------------------------------------------


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - the venv's gunicorn, fixed arguments
            [
                str(VENV_BIN / "gunicorn"),
                "-c",
                str(ROOT / "deploy" / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--max-requests",
                "0",
                "config.wsgi",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_celery_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """One Celery worker (solo pool) for the audit sealing that gunicorn queues;
    what the broker holds from an earlier run is purged first."""
    subprocess.run(  # noqa: S603 - the venv's celery, fixed arguments
        [str(VENV_BIN / "celery"), "-A", "config", "purge", "-f"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
    )
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - the venv's celery, fixed arguments
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_up(
    proc: subprocess.Popen[bytes], base_url: str, key: tuple[str, bytes], log: Path
) -> None:
    import requests
    from requests_http_signature import HTTPSignatureAuth, algorithms

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            auth = HTTPSignatureAuth(
                signature_algorithm=algorithms.ED25519, key=key[1], key_id=key[0], use_nonce=True
            )
            # Workers load Django after they bind: on a busy machine the first
            # answer can take longer than 5 s.
            response = requests.get(f"{base_url}/api/v1/ping", auth=auth, timeout=20)
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
            continue
        if response.status_code == 200:
            return
        raise RuntimeError(f"signed ping: {response.status_code} {response.text[:500]}")
    raise RuntimeError("gunicorn did not answer within 60 s")


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    if children.exists():
        return [int(pid) for pid in children.read_text().split()]
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop_gunicorn(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=25)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _client_signals() -> None:
    """Client processes die quietly on terminate(), as processes do by default."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Platform API throughput against the raw SQL limit (see the module docstring)."
    )
    parser.add_argument("--quick", action="store_true", help="fewer vouchers, 3 s per figure")
    parser.add_argument("--duration", type=float, help="seconds per figure (10; --quick 3)")
    parser.add_argument("--vouchers", type=int, help="vouchers to seed (3000; --quick 300)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (3)")
    parser.add_argument("--batch-clients", type=int, default=3, help="usage-batch clients (3)")
    parser.add_argument("--batch-size", type=int, default=1000, help="records per batch (1000)")
    parser.add_argument(
        "--conn-max-age", default="60", help="CONN_MAX_AGE of gunicorn (60, as deploy/env.example)"
    )
    parser.add_argument(
        "--broker",
        metavar="URL",
        help="production mode: gunicorn queues audit sealing to this Celery broker "
        "(e.g. redis://127.0.0.1:6379/15) and one Celery worker seals; default: "
        "development mode, sealing in the request",
    )
    parser.add_argument(
        "--cache",
        metavar="URL",
        help="CACHE_URL of gunicorn and the Celery worker, as deploy/env.example sets it "
        "(e.g. redis://127.0.0.1:6379/14, flushed first): signature nonces and the per-key "
        "rate limit live there; default: none (nonces in PostgreSQL, rate limit per worker)",
    )
    parser.add_argument("--database", default="bench_vouchers")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="server URL")
    args = parser.parse_args()
    # A plain kill (SIGTERM) ends the run through the finally blocks, so gunicorn stops too.
    signal.signal(signal.SIGTERM, _terminate)
    duration = args.duration or (3.0 if args.quick else 10.0)
    n_vouchers = args.vouchers or (300 if args.quick else 3000)
    if not args.database.startswith("bench"):
        parser.error("--database must start with 'bench' (it is dropped and recreated)")

    database_url = f"{args.pg}/{args.database}"
    env = use_bench_environment(database_url)

    t = time.perf_counter()
    if not migrated_database(env, args.pg, args.database):
        return 1
    import psycopg
    import write_cost  # bench/write_cost.py, next to this script
    from django.conf import settings
    from django.db import connections
    from psycopg import sql
    from requests_http_signature import HTTPSignatureAuth, algorithms

    from audit.services import audit_seal_pending
    from vouchers.ledger import ledger_differences

    seeded = seed(n_vouchers)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    template = capture_redemption(seeded, base_url)
    connections.close_all()
    autovacuum = vacuum_analyze(database_url)
    print(
        f"setup: database {args.database}, {n_vouchers} vouchers + {HOT_VOUCHERS} hot, "
        f"{KEYS} keys, {duration:g} s per figure, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}, autovacuum {autovacuum} (VACUUM ANALYZE after "
        f"seeding and after the SQL replay) ({time.perf_counter() - t:.1f} s)"
    )
    binding = (
        "server-side, prepared after 5 runs"
        if settings.DATABASES["default"].get("OPTIONS", {}).get("server_side_binding")
        else "client-side"
    )
    print(
        f"sql_statements: {len(template.steps)} per redemption: {template.describe()} "
        f"(parameters bound {binding}, in the app and in the replay)"
    )

    # (a) the raw SQL limit ---------------------------------------------------
    dsn = database_url
    sql_rate: dict[int, float] = {}
    batch_sql_rate: dict[int, float] = {}
    connections.close_all()
    for c in (1, 8, 32):
        result = run_clients(
            sql_client,
            [(dsn, template, seeded.codes, f"sql{c}-{i}") for i in range(c)],
            duration,
        )
        sql_rate[c] = result.rate
        print(
            f"sql_limit c={c}: {result.rate:.0f} tx/s p50={percentile(result.latencies, 0.5) * 1e3:.1f}ms "
            f"p99={percentile(result.latencies, 0.99) * 1e3:.1f}ms{result.errors()}{result.cpu()}"
        )
        show_samples("sql_limit", result)
    batch = _batch_statements(template)
    for c in (1, args.batch_clients):
        result = run_clients(
            batch_sql_client,
            [
                (dsn, template, batch, seeded.codes, f"sqlb{c}-{i}", args.batch_size)
                for i in range(c)
            ],
            duration,
        )
        records = result.records.get("captured", 0)
        batch_sql_rate[c] = records / result.elapsed if result.elapsed else 0.0
        print(
            f"batch_sql_limit c={c} x{args.batch_size}: {batch_sql_rate[c]:.0f} records/s "
            f"({result.ok} batches, p50={percentile(result.latencies, 0.5):.2f}s "
            f"p99={percentile(result.latencies, 0.99):.2f}s per batch)"
            f"{result.errors()}{result.cpu()}"
        )
        show_samples("batch_sql_limit", result)
    problems = ledger_differences()
    sealed = audit_seal_pending(full_scan=True)
    print(
        f"sql_replay: ledger {'OK' if not problems else f'{len(problems)} differences'}, "
        f"{sealed} replayed audit events sealed"
    )
    connections.close_all()
    vacuum_analyze(database_url)

    # (b)-(e) the API under gunicorn -------------------------------------------
    gunicorn_env = dict(env, CONN_MAX_AGE=str(args.conn_max_age))
    workdir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    log = workdir / "gunicorn.log"
    celery = None
    # Function call counts for batch_write (pg_stat_user_functions); the
    # sessions gunicorn and the Celery worker open from now on get it.
    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} SET track_functions = 'all'").format(
                sql.Identifier(args.database)
            )
        )
    if args.cache:
        import redis

        redis.Redis.from_url(args.cache).flushdb()
        gunicorn_env["CACHE_URL"] = args.cache
    if args.broker:
        gunicorn_env["CELERY_BROKER_URL"] = args.broker
        celery = start_celery_worker(gunicorn_env, workdir / "celery.log")
        PhaseResult.server_label = "gunicorn+celery"
    proc = start_gunicorn(gunicorn_env, port, args.workers, log)
    failed = False
    monitor = None
    try:
        wait_until_up(proc, base_url, seeded.keys[0], log)
        monitor = psycopg.connect(f"{args.pg}/postgres", autocommit=True)

        def server_pids() -> tuple[list[int], list[int]]:
            rows = monitor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [args.database]
            ).fetchall()
            sealers = [celery.pid] if celery is not None else []
            return worker_pids(proc.pid) + sealers, [row[0] for row in rows]

        if not settings.AUDIT_SEAL_AFTER_COMMIT:
            mode = "AUDIT_SEAL_AFTER_COMMIT=false: audit events left unsealed"
        elif celery is not None:
            mode = (
                f"production mode (audit events sealed by one Celery worker, pid {celery.pid}, "
                f"through {args.broker}; its CPU counts as the server's)"
            )
        else:
            mode = "development mode (audit events sealed in the request after each commit)"
        cache = (
            f"cache {args.cache} (nonces and rate limit there; its server's CPU is in 'other')"
            if args.cache
            else "no shared cache (nonces in PostgreSQL, rate limit per worker)"
        )
        print(
            f"gunicorn: {args.workers} sync workers at {base_url}, CONN_MAX_AGE={args.conn_max_age}, "
            f"DEBUG=false, {mode}, {cache}, log {log}"
        )

        first_workers = set(worker_pids(proc.pid))
        peak_rss: dict[int, float] = {}

        def api(kind: str, c: int, codes: list[str], label: str, secs: float) -> PhaseResult:
            try:
                return _api(kind, c, codes, label, secs)
            finally:
                for pid in worker_pids(proc.pid):
                    peak_rss[pid] = max(peak_rss.get(pid, 0.0), rss_mb(pid))

        def _api(kind: str, c: int, codes: list[str], label: str, secs: float) -> PhaseResult:
            return run_clients(
                api_client,
                [
                    (kind, base_url, *seeded.keys[i % KEYS], codes, f"{label}-{i}", args.batch_size)
                    for i in range(c)
                ],
                secs,
                server_pids,
            )

        warm = api("redeem", 4, seeded.codes, "warmup", min(2.0, duration))
        if warm.ok == 0:
            print(f"warmup: no redemption succeeded{warm.errors()}")
            show_samples("warmup", warm)

        for c in (1, 8, 32):
            result = api("redeem", c, seeded.codes, f"r{c}", duration)
            ratio = result.rate / sql_rate[c] if sql_rate.get(c) else 0.0
            print(
                f"redemptions c={c}: {result.rate:.0f} req/s "
                f"p50={percentile(result.latencies, 0.5) * 1e3:.1f}ms "
                f"p99={percentile(result.latencies, 0.99) * 1e3:.1f}ms ratio={ratio:.2f}"
                f"{result.signing()}{result.errors()}{result.cpu()}"
            )
            show_samples(f"redemptions c={c}", result)

        for kind, label, clients in (
            ("batch", "", 1),
            ("batch", "", args.batch_clients),
            ("batch-without-key", "_without_key", 1),
        ):
            result = api(kind, clients, seeded.codes, f"{kind}{clients}", duration)
            captured = result.records.get("captured", 0)
            rate = captured / result.elapsed if result.elapsed else 0.0
            limit = batch_sql_rate.get(clients)
            others = {k: v for k, v in result.records.items() if k != "captured"}
            print(
                f"usage_batches{label} c={clients} "
                f"x{args.batch_size}: "
                f"{rate:.0f} records/s" + (f" ratio={rate / limit:.2f}" if limit else "") + " "
                f"({result.ok} batches ok, p50={percentile(result.latencies, 0.5):.2f}s "
                f"p99={percentile(result.latencies, 0.99):.2f}s per batch"
                + "".join(f", {k}={v}" for k, v in sorted(others.items()))
                + result.signing()
                + f"){result.errors()}{result.cpu()}"
            )
            show_samples("usage_batches", result)

        # What one batch writes: a few batches one at a time, nothing else running.
        key_id, pem = seeded.keys[0]
        auth = HTTPSignatureAuth(
            signature_algorithm=algorithms.ED25519, key=pem, key_id=key_id, use_nonce=True
        )
        batch_url = f"{base_url}/api/v1/usage-batches"
        try:
            written = write_cost.batch_write_line(
                label=f"batch_write x{args.batch_size}",
                dsn=database_url,
                requests=[
                    signed_request(
                        auth, batch_url, batch_body(seeded.codes, f"bw-{i}", args.batch_size), True
                    )
                    for i in range(3)
                ],
                server_pids=lambda: (
                    worker_pids(proc.pid) + ([celery.pid] if celery is not None else [])
                ),
                server_label=PhaseResult.server_label,
                process_cpu=process_cpu,
                # The Celery worker seals AUDIT_SEAL_DELAY_SECONDS after the answer.
                seal_wait=2.0 * settings.AUDIT_SEAL_DELAY_SECONDS if celery is not None else 0.0,
            )
        except Exception:  # the other figures still run
            failed = True
            written = f"batch_write x{args.batch_size}: failed:\n{traceback.format_exc(limit=4)}"
        print(written)

        result = api("redeem", 32, seeded.hot_codes, "hot", duration)
        print(
            f"hot_spot c=32 on {HOT_VOUCHERS} vouchers: {result.rate:.0f} req/s "
            f"p50={percentile(result.latencies, 0.5) * 1e3:.1f}ms "
            f"p99={percentile(result.latencies, 0.99) * 1e3:.1f}ms"
            f"{result.signing()}{result.errors()}{result.cpu()}"
        )
        show_samples("hot_spot", result)
        checked = manage(env, "check_ledger")
        last = (checked.stdout.strip().splitlines() or [checked.stderr.strip()])[-1]
        print(f"hot_spot check_ledger: exit {checked.returncode} ({last})")
        if checked.returncode != 0:
            failed = True
            print(checked.stdout[-2000:], checked.stderr[-2000:])

        pids = worker_pids(proc.pid)
        sizes = [rss_mb(pid) for pid in pids]
        print(
            f"gunicorn_rss after load: {len(sizes)} workers, max {max(sizes, default=0):.1f} MB, "
            f"mean {sum(sizes) / len(sizes) if sizes else 0:.1f} MB "
            f"({', '.join(f'{pid}={mb:.1f}' for pid, mb in zip(pids, sizes, strict=True))}; "
            f"master {rss_mb(proc.pid):.1f} MB); highest seen after any phase "
            f"{max(peak_rss.values(), default=0):.1f} MB; "
            f"{len(first_workers - set(pids))} of {len(first_workers)} first workers replaced"
        )
        text = log.read_text(errors="replace")
        errors_5xx = len(re.findall(r'" 5\d\d ', text))
        if errors_5xx:
            causes = Counter(
                re.findall(r"^(\w[\w.]*(?:Error|Detected|Exception)): (.*)$", text, re.M)
            )
            print(
                f"gunicorn log: {errors_5xx} responses 5xx, {text.count('WORKER TIMEOUT')} "
                f"worker timeouts; "
                + "; ".join(
                    f"{n}x {name}: {message}" for (name, message), n in causes.most_common(3)
                )
                + f" (see {log})"
            )
    finally:
        if monitor is not None:
            monitor.close()
        stop_gunicorn(proc)
        if celery is not None:
            stop_gunicorn(celery)  # the same polite stop: SIGTERM to its group, then SIGKILL
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
