"""program_update writes only what an official changed, under a lock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Membership
from audit.services import Actor
from common.errors import BusinessError
from programs.models import Program
from programs.services import program_update
from tests.programs.factories import ProgramFactory
from tests.vouchers.factories import official

pytestmark = pytest.mark.django_db


def test_only_the_changed_fields_are_written_and_the_counters_are_kept(jianghan: Any) -> None:
    program = ProgramFactory(district=jianghan)
    stale = Program.objects.get(pk=program.pk)
    # An approval moves the counters after the official's copy was read.
    Program.objects.filter(pk=program.pk).update(
        reserved_amount=Decimal("1000"), issued_amount=Decimal("500")
    )
    saved = program_update(
        actor=Actor.for_user(official(jianghan, Membership.Role.PROGRAM_MANAGER)),
        program=stale,
        changes={"name": "新名称"},
    )
    program.refresh_from_db()
    assert program.name == "新名称"
    assert (program.reserved_amount, program.issued_amount) == (Decimal("1000"), Decimal("500"))
    # The caller's copy shows the counters as they are now.
    assert (stale.reserved_amount, saved.issued_amount) == (Decimal("1000"), Decimal("500"))


@pytest.mark.parametrize("field", ["status", "reserved_amount", "issued_amount", "rule_set"])
def test_counters_status_and_rules_are_never_edited(jianghan: Any, field: str) -> None:
    program = ProgramFactory(district=jianghan)
    with pytest.raises(TypeError):
        program_update(
            actor=Actor.for_user(official(jianghan, Membership.Role.PROGRAM_MANAGER)),
            program=program,
            changes={field: None},
        )


def test_the_budget_is_checked_against_what_is_committed_now(jianghan: Any) -> None:
    program = ProgramFactory(district=jianghan, total_budget=Decimal("1000000"))
    Program.objects.filter(pk=program.pk).update(reserved_amount=Decimal("600000"))
    with pytest.raises(BusinessError) as refused:
        program_update(
            actor=Actor.for_user(official(jianghan, Membership.Role.PROGRAM_MANAGER)),
            program=program,
            changes={"total_budget": Decimal("500000")},
        )
    assert refused.value.field == "total_budget"
    program.refresh_from_db()
    assert program.total_budget == Decimal("1000000")


def test_the_unit_is_fixed_once_a_voucher_exists(jianghan: Any) -> None:
    from tests.programs.factories import ProgramFactory as OpenProgramFactory
    from tests.vouchers.factories import issue

    program = OpenProgramFactory(district=jianghan)
    issue(program, amount="100.00")
    with pytest.raises(BusinessError) as refused:
        program_update(
            actor=Actor.for_user(official(jianghan, Membership.Role.PROGRAM_MANAGER)),
            program=program,
            changes={"unit": Program.Unit.POINTS},
        )
    assert refused.value.field == "unit"
