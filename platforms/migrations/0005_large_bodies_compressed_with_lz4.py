"""A usage batch stores two large values while it holds its vouchers' locks:
the signed body (~170 KB for 1,000 records) and the idempotent answer (~315 KB).
PostgreSQL compresses them with pglz by default, ~1.9 ms for an answer on the
development machine; lz4 takes ~0.45 ms for the same size on disk. Values
already stored keep their compression; other databases are left alone, and so
is a PostgreSQL built without lz4."""

from django.db import migrations

COLUMNS = (
    ("platforms_idempotencyrecord", "response_body"),
    ("platforms_signedrequestbody", "body"),
)


def _lz4_available(cursor) -> bool:
    cursor.execute(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def _set(apps, schema_editor, method: str) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if not _lz4_available(cursor):
            return
        quote = connection.ops.quote_name
        for table, column in COLUMNS:
            cursor.execute(
                f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} SET COMPRESSION {method}"
            )


def forwards(apps, schema_editor) -> None:
    _set(apps, schema_editor, "lz4")


def backwards(apps, schema_editor) -> None:
    _set(apps, schema_editor, "pglz")


class Migration(migrations.Migration):
    dependencies = [("platforms", "0004_signed_request_evidence")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
