"""A usage batch's two large values (its signed body, its idempotent answer)
are compressed with lz4 on PostgreSQL: they are written while the batch holds
its vouchers' locks, and pglz took four times as long (platforms/0005)."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_signed_body_and_the_stored_answer_use_lz4() -> None:
    """The PostgreSQL of scripts/setup and CI is built with lz4 (the migration
    would leave one without it as it is)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        assert cursor.fetchone()[0] is True
        cursor.execute(
            "SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute "
            "WHERE (attrelid, attname) IN "
            "(('platforms_idempotencyrecord'::regclass, 'response_body'), "
            "('platforms_signedrequestbody'::regclass, 'body'))"
        )
        compression = {(table, column): found for table, column, found in cursor.fetchall()}
    assert compression == {
        ("platforms_idempotencyrecord", "response_body"): "l",
        ("platforms_signedrequestbody", "body"): "l",
    }
