"""The psycopg cursor of the PostgreSQL connections (``OPTIONS["cursor_factory"]``).

With ``server_side_binding`` the parameters travel apart from the query,
which lets psycopg prepare a statement that a connection runs again and
again (a charge's look-ups, locks and inserts). The wire protocol counts a
statement's parameters in 16 bits, though: a query with more than 65,535 of
them — an ``IN`` list of every event an archive run removes, a prefetch over
a large export — would fail outright, where client-side binding sent it as
one long text. Such a query is bound client-side here instead, as Django does
without ``server_side_binding``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db.backends.postgresql.base import ServerBindingCursor

# The protocol's limit (a 16-bit count in the Bind message).
MAX_BOUND_PARAMETERS = 65535


class PreparingCursor(ServerBindingCursor, psycopg.Cursor):
    """Django's server-side binding cursor, client-side beyond 65,535 parameters.

    (psycopg.Cursor is already its base; named again for the type checker,
    which does not see through the backend's conditional class definitions.)
    """

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if params is not None and len(params) > MAX_BOUND_PARAMETERS:
            query = psycopg.ClientCursor(self.connection).mogrify(query, params)
            params = None
        return super().execute(query, params, **kwargs)
