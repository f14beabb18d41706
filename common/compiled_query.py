"""Querysets compiled to SQL once and run again with new values.

Django builds a query's SQL afresh every time a queryset is evaluated: it
clones the query, resolves every filter, and quotes every selected column.
For the few queries that every signed charge runs (the signature key, the
reference's replay look-up, the voucher lock, the phase steps) that cost more
than the database did: 0.3–2.3 ms of Python each, against 0.06–0.15 ms for
PostgreSQL to answer them.

A :class:`CompiledQuery` is built from a function that returns the queryset
for given values. The first time it runs on a database connection it calls
that function with *sentinel* values, compiles the queryset, and notes
which parameter of the SQL each value became; afterwards it executes the
same SQL with the new values and turns the rows into model instances
exactly as Django's own ``ModelIterable`` does (same columns, converters,
``select_related`` objects and annotations), from the compiler it kept.
So the queryset stays the one definition of the query: the ORM writes the
SQL and maps the rows, only once per process instead of once per call.

A value that the ORM would transform on its way into the SQL (a custom
field's ``get_prep_value``, a ``LIKE`` pattern) cannot be found among the
parameters, and compiling refuses with ``ValueError`` rather than run the
wrong SQL. ``select_for_update()`` querysets are refused outside a
transaction, as Django refuses them.

This leans on ``SQLCompiler`` attributes (``select``, ``klass_info``,
``annotation_col_map``) and ``get_related_populators``, which Django uses
internally; ``tests/common/test_compiled_query.py`` compares every query compiled
this way with the plain queryset's result, so a Django upgrade that changes
them fails there.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)

_serial = itertools.count(1)


def _sentinel(kind: type, name: str) -> Any:
    """A value of ``kind`` that no real query parameter will equal."""
    number = next(_serial)
    if kind is int:
        # Inside a 32-bit column's range: Django's lookups treat values out
        # of a column's range specially (empty or full result), not as params.
        return 2_000_000_000 + number
    if kind is str:
        return f"\x1fcompiled-query-sentinel:{name}:{number}\x1f"
    raise TypeError(f"CompiledQuery values must be int or str, not {kind.__name__}")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # For each SQL parameter: the name of the value it is, or None and the
    # constant the ORM put there.
    slots: tuple[tuple[str | None, Any], ...]
    compiler: SQLCompiler
    for_update: bool
    init_list: tuple[str, ...]
    fields_start: int
    fields_end: int
    related_populators: list[Any]
    annotations: tuple[tuple[str, int], ...]
    converters: dict[int, Any]


class CompiledQuery(Generic[M]):
    """``build(**values)`` → a queryset; ``.all(**values)`` runs its SQL, compiled once.

    ``kinds`` names each value and its type (``int`` or ``str``)::

        BY_REFERENCE = CompiledQuery(
            lambda platform_id, reference: Redemption.objects.filter(
                platform_id=platform_id, reference=reference
            ).order_by()[:1],
            platform_id=int,
            reference=str,
        )
        redemption = BY_REFERENCE.one(platform_id=platform.pk, reference=reference)
    """

    def __init__(self, build: Callable[..., QuerySet[M]], **kinds: type) -> None:
        self._build = build
        self._kinds = kinds
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str) -> _Compiled:
        sentinels = {name: _sentinel(kind, name) for name, kind in self._kinds.items()}
        by_value = {value: name for name, value in sentinels.items()}
        queryset = self._build(**sentinels)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        slots = tuple(
            (by_value[param], None)
            if isinstance(param, int | str) and param in by_value
            else (None, param)
            for param in params
        )
        missing = set(sentinels) - {name for name, _constant in slots if name}
        if missing:
            raise ValueError(
                f"CompiledQuery: {sorted(missing)} did not reach the SQL parameters "
                "unchanged; this queryset cannot be compiled once"
            )
        columns = [column[0] for column in compiler.select[0 : compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise ValueError("CompiledQuery does not run querysets with composite fields")
        if compiler.klass_info is None or getattr(queryset, "_known_related_objects", None):
            raise ValueError("CompiledQuery runs model querysets without known related objects")
        select = compiler.select
        select_fields = compiler.klass_info["select_fields"]
        start, end = select_fields[0], select_fields[-1] + 1
        return _Compiled(
            sql=sql,
            slots=slots,
            compiler=compiler,
            for_update=bool(queryset.query.select_for_update),
            init_list=tuple(column[0].target.attname for column in select[start:end]),
            fields_start=start,
            fields_end=end,
            # The stubs describe Django 6's signature (with fetch_mode); 5.2 has three.
            related_populators=get_related_populators(compiler.klass_info, select, using),  # type: ignore[call-arg]
            annotations=tuple((compiler.annotation_col_map or {}).items()),
            # What results_iter() would work out again on every call.
            converters=compiler.get_converters(columns),
        )

    def compiled(self, using: str = DEFAULT_DB_ALIAS) -> _Compiled:
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(using)
                if compiled is None:
                    compiled = self._compiled[using] = self._compile(using)
        return compiled

    def all(self, using: str | None = None, **values: Any) -> list[M]:
        """The queryset's objects for ``values``, as ``list(build(**values))`` would give.

        ``using``: the database; by default the one the routers choose, as
        for the queryset (the write database for ``select_for_update()``)."""
        if set(values) != set(self._kinds):
            raise TypeError(f"CompiledQuery needs exactly {sorted(self._kinds)}")
        for name, kind in self._kinds.items():
            if type(values[name]) is not kind:
                raise TypeError(f"{name} must be {kind.__name__}, not {type(values[name])}")
        if using is None:
            first = self.compiled(DEFAULT_DB_ALIAS)
            model = first.compiler.klass_info["model"]
            using = router.db_for_write(model) if first.for_update else router.db_for_read(model)
        connection = connections[using]
        compiled = self.compiled(using)
        if compiled.for_update and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        params = [values[name] if name else constant for name, constant in compiled.slots]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        model = compiled.compiler.klass_info["model"]
        objects: list[M] = []
        start, end, init_list = compiled.fields_start, compiled.fields_end, compiled.init_list
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        for row in rows:
            obj = model.from_db(using, init_list, row[start:end])
            for populator in compiled.related_populators:
                populator.populate(row, obj)
            for attribute, position in compiled.annotations:
                setattr(obj, attribute, row[position])
            objects.append(obj)
        return objects

    def one(self, using: str | None = None, **values: Any) -> M | None:
        """The first object for ``values``, or None (for a query on a unique key)."""
        objects = self.all(using, **values)
        return objects[0] if objects else None
