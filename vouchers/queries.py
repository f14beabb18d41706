"""The hot path's SQL: every query a charge, hold or reversal runs that is
tuned by hand, in one place.

The voucher services (:mod:`vouchers.services`) decide; this module only
reads and writes rows. What lives here, and why it is not plain ORM:

- **The voucher lock** (:func:`lock_voucher`, :func:`lock_vouchers`): one
  definition of ``SELECT … FOR UPDATE OF voucher`` with the voucher's
  program binding to the platform (``platform_bound``), shared by a single
  charge (compiled once, by id or by code) and a usage batch (every
  voucher of the batch at once, in id order).
- **The reference look-ups** (:data:`REDEMPTION_BY_REFERENCE`,
  :data:`HOLD_BY_REFERENCE`, :data:`REVERSAL_BY_REFERENCE`): every write
  looks its reference up first to tell a replay from a new request.
- **A batch's replays** (:data:`EXISTING_REFERENCES_SQL`,
  :func:`redemptions_by_reference`): raw SQL on PostgreSQL, the ORM elsewhere.
- **The amounts' UPDATE** (:func:`save_amounts`): one raw ``UPDATE … FROM
  (VALUES …)`` on PostgreSQL for every voucher whose amounts changed.

Compiled queries are :class:`config.compiled_query.CompiledQuery`; the
inserts are ``accounts.bulk`` (``insert_one``, ``copy_insert``). Two more
pieces of the hot path's machinery belong to the API layer and stay there:
the context variable that tells a service it already runs in the request's
transaction (so its atomic blocks need no savepoint) is
``platforms.idempotency.in_idempotent_transaction``, and the per-thread
serializer cache is ``platforms.views._checkers``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.db.models.expressions import RawSQL

from common.compiled_query import CompiledQuery
from programs.models import Program

from .models import Hold, Redemption, Reversal, Voucher

M = TypeVar("M", bound=Model)
R = TypeVar("R", Redemption, Hold, Reversal)


def only(queryset: QuerySet[M]) -> M | None:
    """The one row of a query on a unique key, or None, with no ORDER BY.

    ``.first()`` would add the model's ordering: on ``(platform, reference)``
    of redemptions PostgreSQL then walked the platform's index on
    ``(platform, created_at, id)`` backwards, filtering on the reference, so
    a new reference (every charge's look-up) read all the platform's rows.
    """
    return next(iter(queryset.order_by()[:1]), None)


def _bound_to(platform_id: Any) -> Exists:
    """Whether the voucher's program is bound to the platform (``platform_bound``)."""
    return Exists(
        Program.platforms.through.objects.filter(
            program_id=OuterRef("program_id"), computeplatform_id=platform_id
        )
    )


def _vouchers_for_update(platform_id: Any = None) -> QuerySet[Voucher]:
    """The voucher lock: only the voucher's rows (``FOR UPDATE OF`` the voucher,
    never a program's), annotated with ``platform_bound`` when a platform asks."""
    vouchers = Voucher.objects.select_for_update(of=("self",))
    if platform_id is not None:
        vouchers = vouchers.annotate(platform_bound=_bound_to(platform_id))
    return vouchers


def _lock_query(*, by_id: bool, bound: bool) -> CompiledQuery[Voucher]:
    """The voucher lock by id or by code, with ``platform_bound`` or without."""

    def build(key: Any, platform_id: Any = None) -> QuerySet[Voucher]:
        vouchers = _vouchers_for_update(platform_id if bound else None).select_related("program")
        return (vouchers.filter(pk=key) if by_id else vouchers.filter(code=key)).order_by()[:1]

    kinds: dict[str, type] = {"key": int if by_id else str}
    if bound:
        kinds["platform_id"] = int
    return CompiledQuery(build, **kinds)


# Every charge, hold and reversal locks its voucher: the queries are compiled once.
_LOCKS = {
    (by_id, bound): _lock_query(by_id=by_id, bound=bound)
    for by_id in (False, True)
    for bound in (False, True)
}


def lock_voucher(
    *,
    platform_id: int | None,
    voucher_id: int | None = None,
    code: str | None = None,
) -> Voucher | None:
    """The voucher row by id or code, locked for this transaction (and only
    it), with its program, or None; ``platform_bound`` is annotated when
    ``platform_id`` is given. (Not the district and the enterprise: a change
    needs only their ids, and joining them cost each charge a five-table
    query and the decryption of the enterprise's fields.)"""
    by_id = bool(voucher_id)
    values: dict[str, Any] = {"key": int(voucher_id) if voucher_id else str(code)}
    if platform_id is not None:
        values["platform_id"] = platform_id
    return _LOCKS[by_id, platform_id is not None].one(**values)


def lock_vouchers(*, platform_id: int, codes: Iterable[str]) -> list[Voucher]:
    """The vouchers with these codes, locked in id order (a usage batch's
    vouchers, each locked once), with ``platform_bound`` but without their
    programs: a batch reads each program once for all its vouchers."""
    return list(_with_codes(_vouchers_for_update(platform_id), codes).order_by("pk"))


def _with_codes(vouchers: QuerySet[Voucher], codes: Iterable[str]) -> QuerySet[Voucher]:
    """``vouchers`` with one of these codes. On PostgreSQL the codes go as one
    array parameter: as ``IN (%s, …)`` psycopg spent ~7 ms of Python splitting
    the query text of 1,000 codes."""
    wanted = sorted(set(codes))
    if transaction.get_connection().vendor == "postgresql":
        return vouchers.filter(code__in=RawSQL("SELECT unnest(%s::text[])", [wanted]))
    return vouchers.filter(code__in=wanted)


def program_and_unit_of_codes(codes: Iterable[str]) -> dict[str, tuple[int, str]]:
    """The program and unit of each voucher with one of these codes (not
    locked: neither ever changes), for a usage batch to read before its locks."""
    vouchers = _with_codes(Voucher.objects.order_by(), codes)
    return {
        code: (program_id, unit)
        for code, program_id, unit in vouchers.values_list("code", "program_id", "unit")
    }


def voucher_for_lookup(*, platform_id: int, code: str) -> Voucher | None:
    """The voucher with this code, not locked, with its program, district and
    enterprise and ``platform_bound`` (the API's GET vouchers/{code}), or None."""
    return only(
        Voucher.objects.select_related("program", "program__district", "enterprise")
        .annotate(platform_bound=_bound_to(platform_id))
        .filter(code=code)
    )


def voucher_id_of_hold(*, hold_id: int, platform_id: int | None) -> int | None:
    """The voucher of a hold (of this platform's, when given), read before
    the voucher is locked: holds change only under their voucher's lock."""
    holds = Hold.objects.filter(pk=hold_id)
    if platform_id is not None:
        holds = holds.filter(platform_id=platform_id)
    return holds.values_list("voucher_id", flat=True).first()


def voucher_id_of_redemption(*, redemption_id: int, platform_id: int) -> int | None:
    """The voucher of one of this platform's redemptions, read before the
    voucher is locked (a reversal)."""
    return (
        Redemption.objects.filter(pk=redemption_id, platform_id=platform_id)
        .values_list("voucher_id", flat=True)
        .first()
    )


def _by_reference(model: type[R], related: str) -> CompiledQuery[R]:
    """The platform's row of ``model`` with a reference, and its ``related`` rows."""
    return CompiledQuery(
        lambda platform_id, reference: (
            model.objects.filter(platform_id=platform_id, reference=reference)
            .select_related(related)
            .order_by()[:1]
        ),
        platform_id=int,
        reference=str,
    )


# Every charge, hold and reversal looks its reference up first (compiled
# once, like the locks).
REDEMPTION_BY_REFERENCE = _by_reference(Redemption, "voucher")
HOLD_BY_REFERENCE = _by_reference(Hold, "voucher")
REVERSAL_BY_REFERENCE = _by_reference(Reversal, "redemption__voucher")


# One index probe per reference, whatever the planner believes about the
# platform: as "platform_id = %s AND reference IN (...)" PostgreSQL scanned
# all of the platform's redemptions whenever its statistics underrated them
# (515 ms for 1,000 references at 420,000 rows; 2.7 ms this way).
EXISTING_REFERENCES_SQL = (
    "SELECT r.id FROM unnest(%s::text[]) AS wanted(reference) "  # noqa: S608 - a model's table only
    f'JOIN "{Redemption._meta.db_table}" r '
    "ON r.platform_id = %s AND r.reference = wanted.reference"
)


def redemptions_by_reference(*, platform_id: int, references: set[str]) -> dict[str, Redemption]:
    """The platform's redemptions with these references (a batch's replays),
    by reference, each with its voucher."""
    if not references:
        return {}
    found = Redemption.objects.filter(platform_id=platform_id, reference__in=references)
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(EXISTING_REFERENCES_SQL, [sorted(references), platform_id])
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return {}
        found = Redemption.objects.filter(pk__in=ids)
    return {r.reference: r for r in found.select_related("voucher").order_by()}


def save_amounts(vouchers: list[Voucher]) -> None:
    """Write the balance and held amount of these (locked) vouchers in one UPDATE:
    the common case of a charge or a batch, where a voucher's amounts changed
    and nothing else."""
    if not vouchers:
        return
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        Voucher.objects.bulk_update(vouchers, ["balance", "held"])
        return
    # Three array parameters, whatever the number of vouchers: one VALUES
    # row of placeholders per voucher cost psycopg ~7 ms of query splitting
    # for a batch's 1,000.
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{Voucher._meta.db_table}" AS v '  # noqa: S608 - the model's table only
            "SET balance = d.balance, held = d.held "
            "FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) AS d(id, balance, held) "
            "WHERE v.id = d.id",
            [
                [v.pk for v in vouchers],
                [v.balance for v in vouchers],
                [v.held for v in vouchers],
            ],
        )
