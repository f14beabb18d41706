"""A usage batch's two large values (its signed body, its idempotent answer)
are compressed with lz4 on PostgreSQL: they are written while the batch holds
its vouchers' locks, and pglz took four times as long (platforms/0005)."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_signed_body_and_the_stored_answer_use_lz4() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        if not cursor.fetchone()[0]:
            pytest.skip("this PostgreSQL was built without lz4")
        cursor.execute(
            "SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute "
            "WHERE (attrelid, attname) IN "
            "(('platforms_idempotencyrecord'::regclass, 'response_body'), "
            "('platforms_signedrequestbody'::regclass, 'body'))"
        )
        compression = {(table, column): method for table, column, method in cursor.fetchall()}
    assert compression == {
        ("platforms_idempotencyrecord", "response_body"): "l",
        ("platforms_signedrequestbody", "body"): "l",
    }
