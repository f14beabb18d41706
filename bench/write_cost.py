"""What one usage batch writes in PostgreSQL: the ``batch_write`` line of ``api.py``.

Sends a few signed usage batches, one at a time and with no other load from
the bench, to the running gunicorn, and measures around each request:

- WAL bytes: ``pg_current_wal_insert_lsn()`` before and after (cluster-wide,
  so other databases' writes count too; the median over the batches is
  printed);
- rows inserted per table, counted exactly as the rows with an ``id`` above
  the table's ``max(id)`` before the request (tables with an integer ``id``),
  else from ``n_tup_ins`` (tables without one, and TOAST tables); rows
  updated (and how many not HOT) and deleted from ``n_tup_upd``,
  ``n_tup_hot_upd`` and ``n_tup_del``;
- index entries written for the inserted rows: one per row and index, a
  partial index only for the new rows matching its predicate;
- function calls (triggers, mostly) from ``pg_stat_user_functions``, which
  needs ``track_functions = 'all'`` on the database (``api.py`` sets it
  before gunicorn starts);
- CPU (utime + stime from ``/proc/<pid>/stat``) of the bench database's
  client backends and of the server processes (gunicorn workers, and the
  Celery worker in production mode) over the request.

The tables, indexes and functions are discovered from the statistics views
each time, so it follows whatever the application writes.

The statistics views are not exact right after a request: PostgreSQL 15
flushes a backend's table and function counters when a transaction ends at
most once a second (PGSTAT_MIN_INTERVAL), and a backend that flushed less
than a second before it went idle flushes only PGSTAT_IDLE_INTERVAL = 10 s
later (checked on this server: the counts of the last transactions of a
connection appear 10 s after it went idle, so polling for ~3 s would miss
them). Hence rows inserted are counted by ``id`` (exact whenever the table
has one), and the counters are read only once ``STATS_SETTLE_SECONDS`` have
passed since the last activity and they stop changing. The same wait before
each batch keeps one batch's counters out of the next one's.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# PGSTAT_IDLE_INTERVAL (10 s) and a margin.
STATS_SETTLE_SECONDS = 10.5
# How long the counters must stay the same once read after that.
STATS_STABLE_SECONDS = 1.0
STATS_MAX_EXTRA_SECONDS = 5.0
POLL_SECONDS = 0.02

_TABLES_SQL = """
SELECT s.relid, s.schemaname, s.relname, owner.oid IS NOT NULL, owner_ns.nspname, owner.relname,
       EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = s.relid AND a.attname = 'id' AND NOT a.attisdropped
                 AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype))
FROM pg_stat_all_tables s
LEFT JOIN pg_class owner ON s.schemaname = 'pg_toast' AND owner.reltoastrelid = s.relid
LEFT JOIN pg_namespace owner_ns ON owner_ns.oid = owner.relnamespace
WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema')
  AND (s.schemaname <> 'pg_toast'
       OR owner_ns.nspname NOT IN ('pg_catalog', 'information_schema'))
"""
_COUNTERS_SQL = """
SELECT relid, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
FROM pg_stat_all_tables WHERE relid = ANY(%s)
"""
_FUNCTIONS_SQL = "SELECT funcid, schemaname, funcname, calls FROM pg_stat_user_functions"
_INDEXES_SQL = """
SELECT i.indrelid, c.relname, pg_get_expr(i.indpred, i.indrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = ANY(%s)
"""
_BACKENDS_SQL = """
SELECT pid, backend_type, datname, state FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND datname IS NOT NULL
"""


@dataclass
class Table:
    relid: int
    name: str  # as printed: schema-qualified outside public; "<table> TOAST"
    schema: str
    relname: str
    has_id: bool
    toast: bool


@dataclass
class Batch:
    """What one request wrote, in absolute numbers."""

    records: int = 0
    wal: float = 0.0
    rows: dict[str, float] = field(default_factory=dict)
    updates: dict[str, float] = field(default_factory=dict)
    not_hot: dict[str, float] = field(default_factory=dict)
    deletes: dict[str, float] = field(default_factory=dict)
    index_entries: dict[str, float] = field(default_factory=dict)
    calls: dict[str, float] = field(default_factory=dict)
    postgres_cpu: float = 0.0
    server_cpu: float = 0.0
    autovacuum: bool = False
    other_databases: set[str] = field(default_factory=set)
    not_counted: set[str] = field(default_factory=set)


class _CpuMeter:
    """CPU seconds of a changing set of processes, polled: a process first seen
    after the start counts from zero, one that exits keeps what it was last seen at."""

    def __init__(self, process_cpu: Callable[[int], float | None]) -> None:
        self.process_cpu = process_cpu
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def poll(self, pids: list[int], at_start: bool = False) -> None:
        for pid in pids:
            used = self.process_cpu(pid)
            if used is None:
                continue
            self.first.setdefault(pid, used if at_start else 0.0)
            self.last[pid] = used

    def total(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def _tables(conn: Any) -> dict[int, Table]:
    tables = {}
    for relid, schema, relname, toast, owner_schema, owner, has_id in conn.execute(_TABLES_SQL):
        if toast:
            name = f"{owner} TOAST" if owner_schema == "public" else f"{owner_schema}.{owner} TOAST"
        else:
            name = relname if schema == "public" else f"{schema}.{relname}"
        tables[relid] = Table(relid, name, schema, relname, bool(has_id and not toast), toast)
    return tables


def _max_ids(conn: Any, tables: dict[int, Table]) -> dict[int, int]:
    from psycopg import sql

    parts = [
        sql.SQL("SELECT {}::oid, coalesce(max(id), 0) FROM {}").format(
            sql.Literal(t.relid), sql.Identifier(t.schema, t.relname)
        )
        for t in tables.values()
        if t.has_id
    ]
    if not parts:
        return {}
    return {int(relid): int(top) for relid, top in conn.execute(sql.SQL(" UNION ALL ").join(parts))}


def _counters(conn: Any, tables: dict[int, Table]) -> dict[int, tuple[int, int, int, int]]:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return {
        int(row[0]): tuple(int(x) for x in row[1:])
        for row in conn.execute(_COUNTERS_SQL, [list(tables)])
    }


def _function_calls(conn: Any) -> dict[int, tuple[str, int]]:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return {
        int(funcid): (name if schema == "public" else f"{schema}.{name}", int(calls))
        for funcid, schema, name, calls in conn.execute(_FUNCTIONS_SQL)
    }


def _settled(conn: Any, tables: dict[int, Table], since: float) -> tuple[Any, Any]:
    """The table and function counters once every backend has flushed what it
    did up to ``since`` (a ``time.monotonic()``): STATS_SETTLE_SECONDS later,
    and unchanged for STATS_STABLE_SECONDS."""
    time.sleep(max(0.0, since + STATS_SETTLE_SECONDS - time.monotonic()))
    seen = (_counters(conn, tables), _function_calls(conn))
    stable_since = time.monotonic()
    give_up = stable_since + STATS_MAX_EXTRA_SECONDS
    while time.monotonic() - stable_since < STATS_STABLE_SECONDS and time.monotonic() < give_up:
        time.sleep(0.25)
        now = (_counters(conn, tables), _function_calls(conn))
        if now != seen:
            seen, stable_since = now, time.monotonic()
    return seen


def _measure(
    conn: Any,
    session: Any,
    prepared: Any,
    server_pids: Callable[[], list[int]],
    process_cpu: Callable[[int], float | None],
    seal_wait: float,
    settled_since: float,
) -> tuple[Batch, str | None, float]:
    """One batch: returns what it wrote, an error sample (or None) and the
    ``time.monotonic()`` of the last activity it caused."""
    from psycopg import sql

    database = conn.info.dbname
    batch = Batch()
    tables = _tables(conn)
    counters0, functions0 = _settled(conn, tables, settled_since)
    ids0 = _max_ids(conn, tables)
    postgres, server = _CpuMeter(process_cpu), _CpuMeter(process_cpu)

    def poll(at_start: bool = False) -> None:
        backends = []
        for pid, backend_type, datname, state in conn.execute(_BACKENDS_SQL):
            if datname != database:
                if state == "active" and backend_type == "client backend":
                    batch.other_databases.add(datname)
            elif backend_type == "autovacuum worker":
                batch.autovacuum = True
            elif backend_type in ("client backend", "parallel worker"):
                backends.append(pid)
        postgres.poll(backends, at_start)
        server.poll(server_pids(), at_start)

    answer: dict[str, Any] = {}

    def send() -> None:
        try:
            answer["response"] = session.send(prepared, timeout=120)
        except Exception as exc:  # reported below
            answer["error"] = exc

    lsn0 = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
    poll(at_start=True)
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    while thread.is_alive():
        poll()
        thread.join(POLL_SECONDS)
    # In production mode the Celery worker seals the batch's audit events
    # after the answer, AUDIT_SEAL_DELAY_SECONDS later: seal_wait is twice that.
    until = time.monotonic() + seal_wait
    while time.monotonic() < until:
        poll()
        time.sleep(0.05)
    poll()
    # The WAL position before anything else is read (reading the new rows may
    # set hint bits).
    batch.wal = float(
        conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)", [lsn0]
        ).fetchone()[0]
    )
    last_activity = time.monotonic()
    batch.postgres_cpu, batch.server_cpu = postgres.total(), server.total()

    response, error = answer.get("response"), answer.get("error")
    if error is not None:
        return batch, f"{type(error).__name__}: {error}", last_activity
    if not 200 <= response.status_code < 300:
        return batch, f"{response.status_code} {response.text[:400]}", last_activity
    results = response.json().get("results", [])
    batch.records = sum(1 for r in results if r.get("status") == "captured")
    if not batch.records:
        return batch, f"no record captured: {response.text[:400]}", last_activity

    # Rows inserted: exact by id where there is one.
    inserted: dict[int, int] = {}
    for relid, top in _max_ids(conn, tables).items():
        if top > ids0.get(relid, 0):
            t = tables[relid]
            inserted[relid] = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE id > %s").format(
                    sql.Identifier(t.schema, t.relname)
                ),
                [ids0.get(relid, 0)],
            ).fetchone()[0]
    counters1, functions1 = _settled(conn, tables, last_activity)
    zero = (0, 0, 0, 0)
    for relid, t in tables.items():
        ins, upd, hot, dele = (
            a - b
            for a, b in zip(counters1.get(relid, zero), counters0.get(relid, zero), strict=True)
        )
        if not t.has_id and ins > 0:
            inserted[relid] = ins
        if upd:
            batch.updates[t.name] = upd
            batch.not_hot[t.name] = upd - hot
        if dele:
            batch.deletes[t.name] = dele
    for funcid, (name, calls) in functions1.items():
        delta = calls - functions0.get(funcid, (name, 0))[1]
        if delta:
            batch.calls[name] = batch.calls.get(name, 0) + delta
    for relid, count in inserted.items():
        batch.rows[tables[relid].name] = count
    # Index entries of the inserted rows (a TOAST table has its one index).
    for relid, index, predicate in conn.execute(_INDEXES_SQL, [list(inserted)]).fetchall():
        t = tables[relid]
        if predicate is None:
            entries = inserted[relid]
        elif t.has_id:
            entries = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE id > %s AND ({})").format(
                    sql.Identifier(t.schema, t.relname), sql.SQL(predicate)
                ),
                [ids0.get(relid, 0)],
            ).fetchone()[0]
        else:
            batch.not_counted.add(index)
            continue
        batch.index_entries[t.name] = batch.index_entries.get(t.name, 0) + entries
    return batch, None, last_activity


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 0.095:
        return f"{value:.2f}"
    return f"{value:.2g}"


def _per_record(batches: list[Batch], attribute: str, total_format: str = "{:.2f}") -> str:
    """Median total per record and, in parentheses, the median per name."""
    per = [{k: v / b.records for k, v in getattr(b, attribute).items() if v} for b in batches]
    total = statistics.median(sum(d.values()) for d in per)
    names = set().union(*per)
    parts = {name: statistics.median(d.get(name, 0.0) for d in per) for name in names}
    listed = sorted(parts.items(), key=lambda item: (-item[1], item[0]))
    inner = ", ".join(f"{name} {_number(v)}" for name, v in listed if v)
    return total_format.format(total) + (f" ({inner})" if inner else "")


def batch_write_line(
    *,
    label: str,
    dsn: str,
    requests: list[Any],
    server_pids: Callable[[], list[int]],
    server_label: str,
    process_cpu: Callable[[int], float | None],
    seal_wait: float = 0.0,
) -> str:
    """Send the pre-signed usage batches ``requests`` one at a time and return
    the ``batch_write`` line: medians per captured record."""
    import psycopg
    import requests as http

    session = http.Session()
    batches: list[Batch] = []
    errors: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        # What the database's sessions get (api.py sets 'all' before gunicorn starts).
        tracking = conn.execute("SHOW track_functions").fetchone()[0]
        # The load before this (and, in production mode, its sealing) must be
        # over and counted before the first batch: the same settling as
        # between batches.
        since = time.monotonic() + seal_wait
        for prepared in requests:
            batch, error, since = _measure(
                conn, session, prepared, server_pids, process_cpu, seal_wait, since
            )
            if error:
                errors.append(error)
            else:
                batches.append(batch)
    if not batches:
        return (
            f"{label}: no batch measured: {' | '.join(' '.join(e.split())[:300] for e in errors)}"
        )
    n = len(batches)
    median = statistics.median
    wal = median(b.wal / b.records for b in batches)
    others = sorted(set().union(*(b.other_databases for b in batches)))
    parts = [
        f"WAL {wal:.0f} B/record (cluster-wide: other databases' writes count too"
        + (f"; seen active meanwhile: {', '.join(others)}" if others else "")
        + ")",
        f"rows/record {_per_record(batches, 'rows')}",
    ]
    if any(b.updates for b in batches):
        not_hot = median(sum(b.not_hot.values()) / b.records for b in batches)
        parts.append(
            f"updates/record {_per_record(batches, 'updates')} of which not HOT {_number(not_hot)}"
        )
    if any(b.deletes for b in batches):
        parts.append(f"deletes/record {_per_record(batches, 'deletes')}")
    not_counted = sorted(set().union(*(b.not_counted for b in batches)))
    parts.append(
        f"index entries/record {_per_record(batches, 'index_entries', '{:.1f}')}"
        + (f" (partial, not counted: {', '.join(not_counted)})" if not_counted else "")
    )
    calls = _per_record(batches, "calls", "{:.1f}")
    if not any(b.calls for b in batches):
        calls += (
            " (no function called)"
            if tracking == "all"
            else f" (track_functions is {tracking!r}: not counted)"
        )
    parts.append(f"trigger calls/record {calls}")
    postgres_us = median(b.postgres_cpu / b.records for b in batches) * 1e6
    server_us = median(b.server_cpu / b.records for b in batches) * 1e6
    parts.append(f"postgres CPU {postgres_us:.0f} µs/record")
    sealing = (
        f", read {seal_wait:g} s after each answer so that the Celery sealing counts"
        if seal_wait
        else ""
    )
    parts.append(f"server CPU {server_us:.0f} µs/record ({server_label}{sealing})")
    autovacuum = sum(b.autovacuum for b in batches)
    records = sorted({b.records for b in batches})
    notes = [
        f"medians of {n} batches, {'/'.join(map(str, records))} records captured each",
        "rows inserted counted by id where the table has one",
    ]
    if autovacuum:
        notes.append(
            f"autovacuum ran in the bench database during {autovacuum} of them "
            "(its WAL counts, its CPU not)"
        )
    if errors:
        notes.append(f"{len(errors)} failed: {' '.join(errors[0].split())[:300]}")
    return f"{label}: " + ", ".join(parts) + f" ({'; '.join(notes)})"
