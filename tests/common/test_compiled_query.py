"""CompiledQuery: the hot-path querysets, compiled once, give what the ORM gives."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Model
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ComputePlatform
from common.compiled_query import CompiledQuery
from common.errors import BusinessError
from platforms import selectors
from programs import phasedown
from programs.models import PhaseStep, Program
from tests.accounts.factories import ComputePlatformFactory
from tests.platforms.conftest import register_key
from tests.programs.factories import ProgramFactory, add_steps, bind
from tests.vouchers.factories import issue, platform_actor
from vouchers import queries as voucher_queries
from vouchers.models import Hold, Redemption, Reversal, Voucher
from vouchers.services import hold_create, redemption_reverse, voucher_redeem
from vouchers.services.ledger_writes import locked_voucher

pytestmark = pytest.mark.django_db


def same_row(compiled: Model | None, plain: Model | None) -> None:
    """Both None, or the same model with equal values in every concrete field."""
    assert (compiled is None) == (plain is None)
    if compiled is None or plain is None:
        return
    assert type(compiled) is type(plain)
    for model_field in type(plain)._meta.concrete_fields:
        name = model_field.attname
        assert getattr(compiled, name) == getattr(plain, name), name
    assert compiled._state.adding is False
    assert compiled._state.db == plain._state.db


@pytest.fixture
def world() -> dict[str, Any]:
    platform = ComputePlatformFactory()
    other = ComputePlatformFactory()
    program = ProgramFactory(per_charge_cap=Decimal("500.00"))
    bind(program, platform)
    today = timezone.localdate()
    add_steps(
        program,
        (today + datetime.timedelta(days=30), "0.20"),
        (today + datetime.timedelta(days=60), "0"),
    )
    voucher = issue(program, amount="1000")
    actor = platform_actor(platform)
    redemption = voucher_redeem(
        actor=actor,
        platform=platform,
        reference="inv-1",
        occurred_at=timezone.now(),
        voucher_code=voucher.code,
        billed_amount=Decimal("100.00"),
        usage=[{"model": "glm-5", "input_tokens": 10, "output_tokens": 2}],
        request_evidence={"key_id": "k", "signature": "sig1=:AAAA:"},
    )
    hold = hold_create(
        actor=actor,
        platform=platform,
        reference="hold-1",
        voucher_code=voucher.code,
        amount=Decimal("5.00"),
    )
    reversal = redemption_reverse(
        actor=actor,
        platform=platform,
        reference="rev-1",
        redemption_id=redemption.id,
        amount=Decimal("1.00"),
        reason="test",
    )
    return {
        "platform": platform,
        "other": other,
        "program": program,
        "voucher": voucher,
        "redemption_id": redemption.id,
        "hold_id": hold.id,
        "reversal_id": reversal.id,
    }


def test_the_voucher_locks_match_the_orm(world: dict[str, Any]) -> None:
    voucher: Voucher = world["voucher"]
    for platform in (world["platform"], world["other"], None):
        for by_id in (False, True):
            with transaction.atomic():
                locked = voucher_queries.lock_voucher(
                    platform_id=None if platform is None else platform.pk,
                    voucher_id=voucher.pk if by_id else None,
                    code=None if by_id else voucher.code,
                )
                plain = Voucher.objects.select_related("program").get(pk=voucher.pk)
                assert locked is not None
                same_row(locked, plain)
                same_row(locked.program, plain.program)
                if platform is None:
                    assert not hasattr(locked, "platform_bound")
                else:
                    assert locked.platform_bound is (platform == world["platform"])


def test_the_voucher_lock_is_one_statement_with_the_row_lock(world: dict[str, Any]) -> None:
    voucher: Voucher = world["voucher"]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        voucher_queries.lock_voucher(platform_id=world["platform"].pk, code=voucher.code)
        voucher_queries.lock_voucher(platform_id=world["platform"].pk, code=voucher.code)
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert len(selects) == 2
    assert selects[0] == selects[1]
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in selects[0]


@pytest.mark.django_db(transaction=True)
def test_the_voucher_lock_is_refused_outside_a_transaction() -> None:
    # Outside the test's own transaction, as Django refuses select_for_update().
    program = ProgramFactory()
    voucher = issue(program, amount="10")
    with pytest.raises(TransactionManagementError):
        voucher_queries.lock_voucher(platform_id=None, code=voucher.code)
    with transaction.atomic():
        locked = voucher_queries.lock_voucher(platform_id=None, code=voucher.code)
        assert locked is not None and locked.pk == voucher.pk


def test_an_unknown_voucher_is_not_found(world: dict[str, Any]) -> None:
    with transaction.atomic():
        assert (
            voucher_queries.lock_voucher(platform_id=world["platform"].pk, code="JH-NOPE-NOPE")
            is None
        )
    with transaction.atomic(), pytest.raises(BusinessError) as refused:
        locked_voucher(platform=world["platform"], code="JH-NOPE-NOPE")
    assert refused.value.code == "voucher_not_found"


def test_the_reference_look_ups_match_the_orm(world: dict[str, Any]) -> None:
    platform: ComputePlatform = world["platform"]
    cases = [
        (voucher_queries.REDEMPTION_BY_REFERENCE, Redemption, "inv-1", "voucher"),
        (voucher_queries.HOLD_BY_REFERENCE, Hold, "hold-1", "voucher"),
        (voucher_queries.REVERSAL_BY_REFERENCE, Reversal, "rev-1", "redemption__voucher"),
    ]
    for query, model, reference, related in cases:
        found = query.one(platform_id=platform.pk, reference=reference)
        plain = model.objects.select_related(related).get(platform=platform, reference=reference)
        same_row(found, plain)
        # select_related objects come along, with no further query.
        with CaptureQueriesContext(connection) as queries:
            for step in related.split("__"):
                found = getattr(found, step)
                plain = getattr(plain, step)
                same_row(found, plain)
        assert queries.captured_queries == []
        assert query.one(platform_id=world["other"].pk, reference=reference) is None
        assert query.one(platform_id=platform.pk, reference=reference + "x") is None


def test_json_fields_are_converted_as_the_orm_converts_them(world: dict[str, Any]) -> None:
    found = voucher_queries.REDEMPTION_BY_REFERENCE.one(
        platform_id=world["platform"].pk, reference="inv-1"
    )
    assert found is not None
    assert found.usage == Redemption.objects.get(pk=found.pk).usage
    assert isinstance(found.usage, list) and found.usage


def test_the_key_look_up_matches_the_orm(world: dict[str, Any]) -> None:
    signing = register_key(world["platform"])
    found = selectors.platform_key_for_verification(signing.key_id)
    assert found is not None
    plain = type(found).objects.select_related("platform").get(key_id=signing.key_id)
    same_row(found, plain)
    same_row(found.platform, plain.platform)
    assert selectors.platform_key_for_verification(signing.key_id + "x") is None


def test_the_phase_steps_match_the_orm(world: dict[str, Any]) -> None:
    program: Program = world["program"]
    fresh = Program.objects.get(pk=program.pk)
    prefetched = Program.objects.prefetch_related("phase_steps").get(pk=program.pk)
    with CaptureQueriesContext(connection) as queries:
        from_prefetch = phasedown.steps_of(prefetched)
    assert queries.captured_queries == []
    expected = sorted(
        (phasedown.Step(s.starts_on, s.rate) for s in PhaseStep.objects.filter(program=program)),
        key=lambda s: s.starts_on,
    )
    assert len(expected) == 2
    assert phasedown.steps_of(fresh) == expected == from_prefetch


def test_a_value_the_orm_transforms_is_refused() -> None:
    # contains → LIKE '%…%': the value is not a parameter as given.
    query: CompiledQuery[Voucher] = CompiledQuery(
        lambda code: Voucher.objects.filter(code__contains=code), code=str
    )
    with pytest.raises(ValueError, match="did not reach the SQL parameters"):
        query.all(code="JH")


def test_values_are_checked_for_name_and_type() -> None:
    query: CompiledQuery[Voucher] = CompiledQuery(
        lambda voucher_id: Voucher.objects.filter(pk=voucher_id), voucher_id=int
    )
    with pytest.raises(TypeError):
        query.all(voucher_id="1")
    with pytest.raises(TypeError):
        query.all(voucher_id=True)
    with pytest.raises(TypeError):
        query.all(pk=1)
    assert query.all(voucher_id=2**31 + 5) == []


def test_constants_of_the_queryset_stay_in_the_sql(world: dict[str, Any]) -> None:
    voucher: Voucher = world["voucher"]
    query: CompiledQuery[Voucher] = CompiledQuery(
        lambda code: Voucher.objects.filter(code=code, status=Voucher.Status.ACTIVE),
        code=str,
    )
    assert [v.pk for v in query.all(code=voucher.code)] == [voucher.pk]
    Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.SUSPENDED)
    assert query.all(code=voucher.code) == []
