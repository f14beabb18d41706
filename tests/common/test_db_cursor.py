"""Server-side parameter binding on PostgreSQL, and its one limit.

The settings bind parameters server-side so that psycopg can prepare the
statements a connection repeats. The protocol counts a statement's
parameters in 16 bits: ``common.db_cursor.PreparingCursor`` binds a larger
query client-side instead of failing it.
"""

from __future__ import annotations

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from common.db_cursor import MAX_BOUND_PARAMETERS, PreparingCursor

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="server-side binding is PostgreSQL's"
    ),
]


def test_parameters_are_bound_server_side_by_the_preparing_cursor() -> None:
    options = connection.settings_dict["OPTIONS"]
    assert options.get("server_side_binding") is True
    assert options.get("cursor_factory") is PreparingCursor
    with connection.cursor() as cursor:
        assert isinstance(cursor.cursor, PreparingCursor)


def test_a_query_with_more_parameters_than_the_protocol_counts_still_runs() -> None:
    event = audit_record(actor=Actor.system("test"), event_type="test.event", obj=None)
    others = list(range(-(MAX_BOUND_PARAMETERS + 10), 0))
    assert len(others) > MAX_BOUND_PARAMETERS
    assert AuditEvent.objects.filter(id__in=[*others, event.pk]).count() == 1
    assert AuditEvent.objects.filter(id__in=others).count() == 0


def test_a_usual_query_is_bound_server_side_and_prepared_when_repeated() -> None:
    with connection.cursor() as cursor:
        for _ in range(6):  # psycopg prepares from the 5th execution on
            cursor.execute("SELECT count(*) FROM audit_auditevent WHERE id = %s", [1])
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements "
            "WHERE statement LIKE 'SELECT count(*) FROM audit_auditevent WHERE id = $1%%'"
        )
        assert cursor.fetchone()[0] == 1
