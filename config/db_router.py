"""The optional read replica: reports read from it only when they ask to.

When ``DATABASE_REPLICA_URL`` is set, ``config.settings`` adds a ``replica``
database and installs :class:`ReportingReplicaRouter`. The router sends a read
to the replica only inside :func:`reporting_reads`, which the dashboard, the
program report, the disclosure export and the settlement statement open
around their reads. Everything else (every page, the API, the admin, the
services and tasks) reads and writes the primary, as it does without a
replica.

A replica lags behind the primary, so nothing decided on its rows may be
written back: a read inside an atomic block on the primary (a service that
writes) stays on the primary even within :func:`reporting_reads`, and every
write goes to the primary whatever the context.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA_DB_ALIAS = "replica"
ALIASES = frozenset({DEFAULT_DB_ALIAS, REPLICA_DB_ALIAS})

# A context variable, not a global flag: each thread (and each asyncio task)
# has its own value, so one request's report never moves another's reads.
_reporting: ContextVar[bool] = ContextVar("reporting_reads", default=False)


@contextmanager
def reporting_reads() -> Iterator[None]:
    """Send the reads made inside this block to the replica, when there is one.

    Also usable as a decorator. Without a replica it changes nothing.
    """
    token = _reporting.set(True)
    try:
        yield
    finally:
        _reporting.reset(token)


def reporting_reads_active() -> bool:
    """True inside :func:`reporting_reads`."""
    return _reporting.get()


def replica_configured() -> bool:
    """True when settings define the ``replica`` database."""
    return REPLICA_DB_ALIAS in settings.DATABASES


class ReportingReplicaRouter:
    """Reads inside :func:`reporting_reads` go to the replica; the rest to the primary."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if not replica_configured():
            return None
        if reporting_reads_active() and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return REPLICA_DB_ALIAS
        # Named, not None: Django would otherwise follow an instance loaded
        # from the replica back to it for its related rows.
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        if not replica_configured():
            return None
        # Named, not None: saving a row read from the replica must not try to
        # write to the replica (Django's fallback is the instance's database).
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        if {obj1._state.db, obj2._state.db} <= ALIASES:
            # The same rows, one copy a little behind the other.
            return True
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        # The replica receives the schema by replication, never by migrate.
        return db == DEFAULT_DB_ALIAS
