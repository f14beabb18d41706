"""Holds, redemptions and programs change status only through their declared
transitions: each from the states it may leave, to the state it names."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from programs.models import Program
from tests.programs.factories import open_program
from vouchers.models import Hold, Redemption


@pytest.mark.parametrize(
    ("close", "status"),
    [
        ("capture", Hold.Status.CAPTURED),
        ("release", Hold.Status.RELEASED),
        ("expire", Hold.Status.EXPIRED),
    ],
)
def test_an_open_hold_closes_once_in_the_state_its_transition_names(
    close: str, status: str
) -> None:
    hold = Hold(amount=Decimal("10"))
    at = timezone.now()
    getattr(hold, close)(at=at)
    assert (hold.status, hold.closed_at) == (status, at)
    for again in ("capture", "release", "expire"):
        assert not can_proceed(getattr(hold, again))
        with pytest.raises(TransitionNotAllowed):
            getattr(hold, again)(at=at)


def test_a_redemption_is_partly_then_fully_reversed_and_then_no_more() -> None:
    redemption = Redemption(covered=Decimal("100.00"))
    redemption.reverse(amount=Decimal("40.00"))
    assert redemption.status == Redemption.Status.PARTIALLY_REVERSED
    assert redemption.reversed_amount == Decimal("40.00")
    redemption.reverse(amount=Decimal("60.00"))
    assert redemption.status == Redemption.Status.REVERSED
    assert redemption.reversed_amount == Decimal("100.00")
    with pytest.raises(TransitionNotAllowed):
        redemption.reverse(amount=Decimal("1.00"))


@pytest.mark.django_db
def test_a_program_closes_at_exit_only_once_its_exit_date_has_come(jianghan: Any) -> None:
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    program = open_program(district=jianghan)
    program.phase_steps.filter(rate=0).update(starts_on=tomorrow)
    assert not can_proceed(program.close_at_exit)
    program.phase_steps.filter(rate=0).update(starts_on=timezone.localdate())
    assert can_proceed(program.close_at_exit)
    program.close_at_exit()
    assert program.status == Program.Status.CLOSED
