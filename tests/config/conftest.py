"""A ``replica`` database alias for the router tests: a test mirror of default.

Settings read ``DATABASE_REPLICA_URL`` once, at import, and a test run
normally has none; the router tests need the alias all the same. It is added
here, before the test databases are set up, as a TEST MIRROR of ``default``:
a second connection to the same test database, as a replica that never lags.
No router is installed by this, so every other test reads and writes
``default`` exactly as before; a router test installs the router itself.
"""

from __future__ import annotations

from typing import Any

from config.db_router import REPLICA_DB_ALIAS


def pytest_configure(config: Any) -> None:
    from django.db import DEFAULT_DB_ALIAS, connections

    # ``connections.settings`` is settings.DATABASES itself, with Django's
    # defaults filled in; adding the alias there is what settings would do.
    databases = connections.settings
    if REPLICA_DB_ALIAS in databases:
        return
    replica = {k: v for k, v in databases[DEFAULT_DB_ALIAS].items() if k != "TEST"}
    replica["TEST"] = {"MIRROR": DEFAULT_DB_ALIAS}
    databases[REPLICA_DB_ALIAS] = replica
    connections.configure_settings(databases)
