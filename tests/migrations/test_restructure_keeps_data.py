"""The migrations of the restructuring into one app per bounded context
(issue 15) keep every row.

``data/demo_before_restructure.sql.gz`` is the seeded demo (``seed_demo``, plus
a bulk issuance and one program's detector settings) dumped as data only at
the schema from before the restructuring (commit cb80d09, ``OLD_HEAD`` below);
``scripts/make_migration_fixture`` regenerates it. The test

1. creates an empty scratch database and migrates it to ``OLD_HEAD``;
2. replaces what those migrations wrote with the dump (every table,
   ``django_migrations`` and ``django_content_type`` included), so the database
   is the demo exactly as it stood at the old head;
3. migrates it to today's head (``migrate`` with no target);
4. checks that every table of the dump still holds its rows (tables keep their
   names: a migration that renames one must be declared in ``RENAMED_TABLES``),
   that every foreign key still links the same rows (a link that moved from one
   table to the other, as the voucher/application link does, is compared as the
   set of linked pairs wherever it is stored: ``MOVED_LINKS``), and that
   ``check_ledger`` and ``verify_audit`` report clean.

While the new head is the old one, step 3 migrates nothing and the test still
checks the load, the counts, the ledger and the audit chain. A migration that
deletes, duplicates or unlinks rows makes it fail, naming the table.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import environ
import psycopg
import pytest
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from psycopg import sql

pytestmark = pytest.mark.postgres

DATA = Path(__file__).resolve().parent / "data"
DUMP = DATA / "demo_before_restructure.sql.gz"
CAPTURED = DATA / "demo_before_restructure.json"
AUDIT_KEY = DATA / "demo_before_restructure.audit-key.pub.pem"

# The leaf migration of every app at the head the dump was made at (cb80d09,
# before the restructuring). The dump's django_migrations must list exactly
# the migrations up to these.
OLD_HEAD: list[tuple[str, str]] = [
    ("account", "0009_emailaddress_unique_primary_email"),
    ("accounts", "0004_district_code_in_force"),
    ("admin", "0003_logentry_add_action_flag_choices"),
    ("audit", "0005_leaner_write_indexes"),
    ("auth", "0012_alter_user_first_name_max_length"),
    ("contenttypes", "0002_remove_content_type_name"),
    ("django_celery_beat", "0019_alter_periodictasks_options"),
    ("eligibility", "0004_rule_set_versions_guards"),
    ("mfa", "0003_authenticator_type_uniq"),
    ("platforms", "0003_signature_nonce_kept_until_signature_expires"),
    ("sessions", "0001_initial"),
    ("vouchers", "0015_rule_set_versions_in_programs_and_applications"),
]

# A table a migration renamed: old name -> new name. The restructuring keeps
# every table name (SeparateDatabaseAndState); a rename must be written here,
# on purpose, or the test fails saying the table is gone.
RENAMED_TABLES: dict[str, str] = {}

# Tables where migrating forward may ADD rows: the migration records, and the
# content types and permissions post_migrate creates for models in new apps.
# Every other table keeps exactly its count unless listed in EXPECTED_ROW_CHANGES.
BOOKKEEPING_TABLES = {"django_migrations", "django_content_type", "auth_permission"}

# A table whose row count a migration changes on purpose: table -> (after -
# before), with the reason in a comment. Empty: the restructuring moves code,
# not data.
EXPECTED_ROW_CHANGES: dict[str, int] = {}


@dataclass(frozen=True)
class Storage:
    """One place a link between two kinds of rows can be stored: ``column`` of
    ``table``; ``pair`` names the two columns of that table that give the
    (left id, right id) pair of the link."""

    table: str
    column: str
    pair: tuple[str, str]


# Links a migration may move from one table to the other (issue 15: "the
# application names its voucher, not the voucher its application"). Before
# and after, the set of linked pairs, read from every storage that exists,
# must be the same. A foreign-key column that disappears must be one of these.
MOVED_LINKS: dict[str, tuple[Storage, ...]] = {
    "voucher <-> application": (
        Storage("vouchers_voucher", "application_id", ("id", "application_id")),
        Storage("vouchers_application", "voucher_id", ("voucher_id", "id")),
    ),
}


# --- the scratch database ---------------------------------------------------


def _server() -> dict[str, Any]:
    return environ.Env.db_url_config(os.environ["DATABASE_URL"])


def _connect(dbname: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    server = _server()
    return psycopg.connect(
        host=server["HOST"] or "127.0.0.1",
        port=server["PORT"] or 5432,
        user=server["USER"] or "postgres",
        password=server["PASSWORD"] or None,
        dbname=dbname,
        autocommit=autocommit,
    )


@contextmanager
def _scratch_database() -> Iterator[str]:
    """An empty database next to the test database, dropped at the end."""
    name = f"{_server()['NAME']}_restructure_{os.getpid()}"[:63]
    with _connect("postgres", autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with _connect("postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def _django_on(name: str) -> Iterator[None]:
    """Point Django's default connection at database ``name`` for a while."""
    connection = connections["default"]
    before = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    ContentType.objects.clear_cache()
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = before
        ContentType.objects.clear_cache()


# --- loading the dump -------------------------------------------------------


def _dump_statements(text: str) -> Iterator[tuple[str, str | None]]:
    """The plain pg_dump file as (statement, COPY data or None), without psql's
    meta-commands (``\\restrict``) and comments."""
    lines = iter(text.splitlines(keepends=True))
    pending: list[str] = []
    for line in lines:
        if not pending and (not line.strip() or line.startswith(("--", "\\"))):
            continue
        pending.append(line)
        if not line.rstrip().endswith(";"):
            continue
        statement = "".join(pending)
        pending = []
        if statement.startswith("COPY ") and statement.rstrip().endswith("FROM stdin;"):
            data = []
            for row in lines:
                if row == "\\.\n":
                    break
                data.append(row)
            yield statement, "".join(data)
        else:
            yield statement, None


def _load_dump(name: str) -> None:
    """Empty every table the migrations filled, then load the dump: triggers
    and foreign-key checks off while loading (``session_replication_role``,
    which needs a superuser, as the test database's owner is in CI)."""
    text = gzip.decompress(DUMP.read_bytes()).decode("utf-8")
    with _connect(name) as conn:
        conn.execute("SET session_replication_role = replica")
        tables = _tables(conn)
        conn.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier("public", t) for t in tables)
            )
        )
        with conn.cursor() as cursor:
            for statement, data in _dump_statements(text):
                if data is None:
                    cursor.execute(statement)  # our own dump: SET, setval
                    continue
                with cursor.copy(statement) as copy:
                    copy.write(data)
        conn.execute("SET session_replication_role = DEFAULT")


# --- what the database holds ------------------------------------------------


def _tables(conn: psycopg.Connection[Any]) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]


def _columns(conn: psycopg.Connection[Any]) -> set[tuple[str, str]]:
    return {
        (row[0], row[1])
        for row in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        )
    }


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table))
    ).fetchone()
    assert row is not None
    return int(row[0])


def _foreign_keys(conn: psycopg.Connection[Any]) -> list[tuple[str, str, str]]:
    """(table, foreign-key column, primary-key column) of every single-column
    foreign key of a table with a single-column primary key."""
    return [
        (row[0], row[1], row[2])
        for row in conn.execute(
            """
            SELECT t.relname, a.attname, pa.attname
            FROM pg_constraint c
            JOIN pg_class t ON t.oid = c.conrelid
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            JOIN pg_constraint p ON p.conrelid = c.conrelid AND p.contype = 'p'
            JOIN pg_attribute pa ON pa.attrelid = p.conrelid AND pa.attnum = p.conkey[1]
            WHERE c.contype = 'f' AND cardinality(c.conkey) = 1
              AND cardinality(p.conkey) = 1
              AND t.relnamespace = 'public'::regnamespace
            ORDER BY 1, 2
            """
        )
    ]


def _links(
    conn: psycopg.Connection[Any], table: str, column: str, pk: str, upto: int | None = None
) -> tuple[int, str]:
    """How many rows of ``table`` link somewhere through ``column``, and a
    digest of which row links to which (only rows with ``pk <= upto`` when
    given: the rows that existed before, in a bookkeeping table that grows)."""
    row = conn.execute(
        sql.SQL(
            "SELECT count(*), coalesce(md5(string_agg({pk}::text || '>' || {col}::text, ','"
            " ORDER BY {pk})), '') FROM {table} WHERE {col} IS NOT NULL{upto}"
        ).format(
            pk=sql.Identifier(pk),
            col=sql.Identifier(column),
            table=sql.Identifier("public", table),
            upto=(
                sql.SQL(" AND {} <= {}").format(sql.Identifier(pk), sql.Literal(upto))
                if upto is not None
                else sql.SQL("")
            ),
        )
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def _pairs(
    conn: psycopg.Connection[Any], storages: tuple[Storage, ...], renamed: dict[str, str]
) -> set[tuple[Any, Any]]:
    """The linked pairs of a movable link, from every storage that exists."""
    columns = _columns(conn)
    pairs: set[tuple[Any, Any]] = set()
    for storage in storages:
        table = renamed.get(storage.table, storage.table)
        if (table, storage.column) not in columns:
            continue
        left, right = storage.pair
        pairs |= {
            (row[0], row[1])
            for row in conn.execute(
                sql.SQL("SELECT {}, {} FROM {} WHERE {} IS NOT NULL").format(
                    sql.Identifier(left),
                    sql.Identifier(right),
                    sql.Identifier("public", table),
                    sql.Identifier(storage.column),
                )
            )
        }
    return pairs


def _command(name: str) -> str:
    """Run a management command; its output, or the test fails with it."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            call_command(name, stdout=out, stderr=err)
    except SystemExit as exit_:
        pytest.fail(
            f"{name} failed after migrating (exit {exit_.code}):\n{out.getvalue()}{err.getvalue()}"
        )
    return out.getvalue() + err.getvalue()


# --- the test ---------------------------------------------------------------


def test_migrating_the_demo_from_before_the_restructuring_keeps_every_row(
    django_db_blocker: Any, settings: Any, tmp_path: Path
) -> None:
    if not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("PostgreSQL only")
    captured = json.loads(CAPTURED.read_text(encoding="utf-8"))
    # verify_audit: the dump's checkpoints are signed by the fixture's own key;
    # the test's signing key is a throwaway one in tmp_path.
    settings.AUDIT_SIGNING_KEY = ""
    settings.VAR_DIR = tmp_path
    settings.AUDIT_TRUSTED_PUBLIC_KEYS = [AUDIT_KEY.read_text(encoding="ascii")]
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"

    with _scratch_database() as name, django_db_blocker.unblock(), _django_on(name):
        # 1. The schema of the old head.
        connection = connections["default"]
        executor = MigrationExecutor(connection)
        executor.migrate(OLD_HEAD)
        with _connect(name) as conn:
            applied: dict[str, list[str]] = {}
            for app, migration in conn.execute(
                "SELECT app, name FROM django_migrations ORDER BY app, name"
            ):
                applied.setdefault(app, []).append(migration)
        assert applied == {
            app: sorted(names) for app, names in captured["applied_migrations"].items()
        }, (
            "OLD_HEAD does not reach the migrations the dump was made at: "
            "regenerate the fixture (scripts/make_migration_fixture) at the old head"
        )

        # 2. The demo, as it stood at the old head.
        connection.close()
        _load_dump(name)
        with _connect(name) as conn:
            before = {table: _count(conn, table) for table in _tables(conn)}
            foreign_keys = _foreign_keys(conn)
            links_before = {(t, c): _links(conn, t, c, pk) for t, c, pk in foreign_keys}
            # Bookkeeping tables grow with new apps (their permissions): the
            # rows that were there must link as before.
            last_before = {
                t: conn.execute(
                    sql.SQL("SELECT coalesce(max({}), 0) FROM {}").format(
                        sql.Identifier(pk), sql.Identifier("public", t)
                    )
                ).fetchone()[0]
                for t, _c, pk in foreign_keys
                if t in BOOKKEEPING_TABLES
            }
            pairs_before = {
                link: _pairs(conn, storages, {}) for link, storages in MOVED_LINKS.items()
            }
        assert before == captured["row_counts"], "the dump did not load as it was captured"
        assert len(pairs_before["voucher <-> application"]) == captured["voucher_application_pairs"]
        assert all(pairs_before.values()), "every movable link has pairs in the fixture"

        # 3. Today's head.
        call_command("migrate", interactive=False, verbosity=0)
        connection.close()

        # 4. Every row, every link.
        problems: list[str] = []
        moved_columns = {(s.table, s.column) for storages in MOVED_LINKS.values() for s in storages}
        with _connect(name) as conn:
            tables_after = set(_tables(conn))
            columns_after = _columns(conn)
            for table, count in sorted(before.items()):
                now = RENAMED_TABLES.get(table, table)
                label = table if now == table else f"{table} (renamed {now})"
                if now not in tables_after:
                    problems.append(
                        f"table {table} is gone after migrating ({count} rows): if a migration "
                        "renamed it, add it to RENAMED_TABLES; if it dropped it, the rows are lost"
                    )
                    continue
                after = _count(conn, now)
                expected = count + EXPECTED_ROW_CHANGES.get(table, 0)
                if table in BOOKKEEPING_TABLES and after >= count:
                    continue
                if after != expected:
                    problems.append(f"table {label}: {count} rows before, {after} after migrating")
            for table, column, pk in foreign_keys:
                if (table, column) in moved_columns:
                    continue  # compared as pairs below
                now = RENAMED_TABLES.get(table, table)
                if now not in tables_after:
                    continue  # reported above
                if (now, column) not in columns_after:
                    n = links_before[(table, column)][0]
                    problems.append(
                        f"foreign key {table}.{column} is gone after migrating ({n} links): if a "
                        "migration moved the link to the other table, declare it in MOVED_LINKS"
                    )
                    continue
                after_links = _links(conn, now, column, pk, last_before.get(table))
                if after_links != links_before[(table, column)]:
                    problems.append(
                        f"foreign key {table}.{column} links other rows after migrating: "
                        f"{links_before[(table, column)][0]} links before, {after_links[0]} after"
                    )
            for link, storages in MOVED_LINKS.items():
                pairs_after = _pairs(conn, storages, RENAMED_TABLES)
                if pairs_after != pairs_before[link]:
                    problems.append(
                        f"link {link}: {len(pairs_before[link])} pairs before, "
                        f"{len(pairs_after)} after migrating; lost "
                        f"{sorted(pairs_before[link] - pairs_after)}, new "
                        f"{sorted(pairs_after - pairs_before[link])}"
                    )
        assert not problems, "migrating lost data:\n" + "\n".join(problems)

        # The ledger and the audit chain, read by today's code.
        assert "ledger OK" in _command("check_ledger")
        assert "Audit log verified" in _command("verify_audit")
