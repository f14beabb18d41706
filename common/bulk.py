"""Bulk inserts through PostgreSQL's COPY, for the hot write paths.

A usage batch of 1,000 records writes 1,000 redemptions, 1,000 ledger
entries and 1,000 audit events. Through ``bulk_create`` most of that
request's time went into building one ``INSERT`` with tens of thousands of
placeholders — Django compiling a placeholder per value, then psycopg
splitting the query text again to bind them client-side — before PostgreSQL
saw a byte. :func:`copy_insert` sends the same rows with ``COPY ... FROM
STDIN`` instead: no SQL text per value, and each JSON value that several
rows share (a request's evidence) is encoded once.

The rows get their ids from the table's own sequence first (one query for
all of them, in increasing order, as ``bulk_create`` hands them out), so the
caller's instances carry their primary keys afterwards, as with
``bulk_create``. Everything else about the rows is what ``bulk_create``
would write: the same columns, defaults and ``auto_now_add`` values, the
same constraints and triggers checked by the server. Other databases (the
SQLite demo) use ``bulk_create``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import IntegrityError, connections, models, router, transaction

M = TypeVar("M", bound=models.Model)

# Field classes whose Python value PostgreSQL takes as it is (what their
# get_db_prep_save returns on PostgreSQL, unchanged); an exact match, so a
# subclass with its own conversion (an encrypted field) takes the general path.
_PLAIN_FIELDS: tuple[type[models.Field], ...] = (
    models.AutoField,
    models.BigAutoField,
    models.CharField,
    models.TextField,
    models.SlugField,
    models.EmailField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
    models.BooleanField,
    models.DecimalField,
    models.ForeignKey,
    models.OneToOneField,
    models.UUIDField,
)

_sequences: dict[tuple[str, str], str] = {}
# insert_one's statement and converters, per (alias, model, conflict handling, pk given).
_inserts: dict[tuple[str, type[models.Model], bool, bool], tuple[str, list[Any]]] = {}


def copy_insert(objs: Sequence[M], *, using: str | None = None) -> list[M]:
    """Insert ``objs`` (instances of one model, not yet saved) in one COPY.

    The instances get their primary keys and are marked as saved, as
    ``bulk_create`` leaves them. Integrity errors are Django's
    (``IntegrityError`` with the constraint's name in its message).
    """
    if not objs:
        return list(objs)
    model = type(objs[0])
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return model._default_manager.db_manager(alias).bulk_create(objs)
    opts = model._meta
    fields = [f for f in opts.concrete_fields if f.column]
    names = [str(f.column) for f in fields]
    converters = [_converter(field, connection) for field in fields]
    pk = opts.pk
    with connection.wrap_database_errors, connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg cursor: Django's wrapper has no copy()
        missing = [obj for obj in objs if obj.pk is None]
        if missing:
            sequence = _sequence(connection, opts.db_table, str(pk.column))
            cursor.execute(
                "SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
                [sequence, len(missing)],
            )
            for obj, (new_id,) in zip(missing, sorted(cursor.fetchall()), strict=True):
                setattr(obj, pk.attname, new_id)
        columns = ", ".join(connection.ops.quote_name(name) for name in names)
        table = connection.ops.quote_name(opts.db_table)
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([convert(obj) for convert in converters])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias
    return list(objs)


def copy_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_columns: Sequence[str] = (),
    using: str | None = None,
) -> list[int]:
    """Insert plain rows (values of ``columns``, by attribute name, in that order)
    in one COPY, and return their new ids in row order.

    The lean form of :func:`copy_insert` for the hottest path, a usage batch:
    no model instances are built. Values go as they are (Decimals, aware
    datetimes, ids of relations); ``json_columns`` hold Python values that are
    encoded here, a value shared by several rows (the same list or dict
    object) once. Every column the table requires must be given: the
    model's Python defaults are not applied. Other databases (the SQLite
    demo) get the rows through ``bulk_create``.
    """
    if not rows:
        return []
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    opts = model._meta
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.db_manager(alias).bulk_create(objs)
        return [obj.pk for obj in objs]
    by_name = {f.attname: f for f in opts.concrete_fields}
    encode = [_row_json_encoder(by_name[c]) if c in json_columns else None for c in columns]
    names = [str(by_name[c].column) for c in columns]
    with connection.wrap_database_errors, connection.cursor() as wrapper:
        cursor = wrapper.cursor
        sequence = _sequence(connection, opts.db_table, str(opts.pk.column))
        cursor.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, len(rows)]
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        quote = connection.ops.quote_name
        header = ", ".join(quote(name) for name in [str(opts.pk.column), *names])
        with cursor.copy(f"COPY {quote(opts.db_table)} ({header}) FROM STDIN") as copy:
            if not any(encode):
                for pk, row in zip(ids, rows, strict=True):
                    copy.write_row((pk, *row))
            else:
                for pk, row in zip(ids, rows, strict=True):
                    copy.write_row(
                        (
                            pk,
                            *(
                                value if enc is None else enc(value)
                                for value, enc in zip(row, encode, strict=True)
                            ),
                        )
                    )
    return ids


def _row_json_encoder(field: models.Field) -> Callable[[Any], Any]:
    """JSON text of a column's Python value, a value shared by several rows
    (the same object) encoded once."""
    encoder = getattr(field, "encoder", None)
    encoded: dict[int, tuple[Any, str]] = {}

    def encode(value: Any) -> Any:
        if value is None:
            return None
        if value == []:
            return "[]"
        cached = encoded.get(id(value))
        if cached is not None and cached[0] is value:
            return cached[1]
        text = json.dumps(value, cls=encoder)
        encoded[id(value)] = (value, text)
        return text

    return encode


def insert_one(
    obj: models.Model, *, using: str | None = None, ignore_conflicts: bool = False
) -> bool:
    """Insert one unsaved instance with one cached ``INSERT ... RETURNING``; True if inserted.

    ``obj.save(force_insert=True)`` for the rows every charge writes, without
    Django compiling the same INSERT anew each time (0.5 ms of Python per row
    on the hot path): the statement text is built once per model, so
    PostgreSQL prepares it, and the values are converted as :func:`copy_insert`
    converts them. The instance gets its primary key and is marked as saved.
    With ``ignore_conflicts``, a row that meets a unique constraint is not
    inserted (``ON CONFLICT DO NOTHING``) and False is returned. No model
    signals are sent, as with ``bulk_create``. Other databases use the ORM.
    """
    model = type(obj)
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        if not ignore_conflicts:
            obj.save(force_insert=True, using=alias)
            return True
        try:
            with transaction.atomic(using=alias):
                obj.save(force_insert=True, using=alias)
        except IntegrityError:
            return False
        return True
    with_pk = obj.pk is not None
    key = (alias, model, ignore_conflicts, with_pk)
    cached = _inserts.get(key)
    if cached is None:
        opts = model._meta
        fields = [f for f in opts.concrete_fields if f.column and (with_pk or f is not opts.pk)]
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(opts.db_table)} "  # noqa: S608 - model names and placeholders only
            f"({', '.join(quote(str(f.column)) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})"
            f"{' ON CONFLICT DO NOTHING' if ignore_conflicts else ''} "
            f"RETURNING {quote(str(opts.pk.column))}"
        )
        converters = [_converter(f, connection, share_json=False) for f in fields]
        cached = _inserts[key] = (sql, converters)
    sql, converters = cached
    with connection.cursor() as cursor:
        cursor.execute(sql, [convert(obj) for convert in converters])
        row = cursor.fetchone()
    if row is None:
        return False
    setattr(obj, model._meta.pk.attname, row[0])
    obj._state.adding = False
    obj._state.db = alias
    return True


def _sequence(connection: Any, table: str, column: str) -> str:
    key = (connection.alias, table)
    if key not in _sequences:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
            _sequences[key] = cursor.fetchone()[0]
    return _sequences[key]


def _converter(
    field: models.Field, connection: Any, *, share_json: bool = True
) -> Callable[[models.Model], Any]:
    """How to turn ``field`` of an instance into the value COPY (or an INSERT) sends.

    ``share_json``: encode a JSON value that several rows share once (for one
    COPY; a converter kept across calls must not remember values).
    """
    attname = field.attname
    if isinstance(field, models.JSONField):
        if not share_json:
            encoder = field.encoder
            return lambda obj: (
                None if (value := getattr(obj, attname)) is None else json.dumps(value, cls=encoder)
            )
        return _json_converter(field)
    if type(field) is models.DateTimeField and not (field.auto_now or field.auto_now_add):
        return lambda obj: getattr(obj, attname)
    if type(field) in _PLAIN_FIELDS:
        return lambda obj: getattr(obj, attname)
    if type(field) is models.GenericIPAddressField:
        return lambda obj: getattr(obj, attname) or None

    def general(obj: models.Model) -> Any:
        return field.get_db_prep_save(field.pre_save(obj, True), connection)

    return general


def _json_converter(field: models.JSONField) -> Callable[[models.Model], Any]:
    """JSON as text (the server parses it as jsonb); a value shared by several
    rows — one request's evidence on every entry it caused — is encoded once."""
    attname = field.attname
    encoder = field.encoder
    encoded: dict[int, tuple[Any, str]] = {}

    def convert(obj: models.Model) -> Any:
        value = getattr(obj, attname)
        if value is None:
            return None
        key = id(value)
        cached = encoded.get(key)
        if cached is not None and cached[0] is value:
            return cached[1]
        text = json.dumps(value, cls=encoder)
        if isinstance(value, dict | list):
            # Keep the value itself too, so its id cannot be reused meanwhile.
            encoded[key] = (value, text)
        return text

    return convert
