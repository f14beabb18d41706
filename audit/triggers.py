"""Switching the append-only guards off for one sanctioned operation.

``pgtrigger.ignore`` prepends ``SELECT set_config(...);`` to every statement
run inside it. With server-side parameters (``server_side_binding``, which
the settings turn on for PostgreSQL so that psycopg can prepare statements)
PostgreSQL refuses two commands in one prepared statement. This sets the
same variable that the guards' trigger function reads, once, with a
statement of its own, and clears it afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pgtrigger
from django.db import connections
from psycopg.pq import TransactionStatus


@contextlib.contextmanager
def triggers_ignored(*uris: str, using: str = "default") -> Iterator[None]:
    """Ignore the pgtrigger triggers named by ``uris`` ("app.Model:name") on the
    ``using`` connection while the block runs; a no-op on other databases.

    The setting is the session's, like the block: set when it starts, cleared
    when it ends. Set inside a transaction that then rolls back, it is rolled
    back with it (PostgreSQL's settings are transactional).
    """
    if not uris:
        # pgtrigger.registered() with no URI is every trigger: never that.
        raise ValueError("name the triggers to ignore")
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    ignored: set[str] = set()
    for model, trigger in pgtrigger.registered(*uris):
        pgid = trigger.get_pgid(model)
        # Both forms, as pgtrigger.ignore sends them: the trigger function
        # installed by older pgtrigger versions matches "table:pgid".
        ignored |= {f"{model._meta.db_table}:{pgid}", pgid}
    if not ignored:
        raise ValueError(f"no registered trigger matches {uris!r}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pgtrigger.ignore', %s, false)",
            ["{" + ",".join(sorted(ignored)) + "}"],
        )
    try:
        yield
    finally:
        raw = connection.connection
        # In a failed transaction the reset would fail too, and needs not
        # run: the rollback takes the setting back with everything else.
        if raw is not None and raw.info.transaction_status != TransactionStatus.INERROR:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('pgtrigger.ignore', NULL, false)")
