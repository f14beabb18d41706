"""The settlements in an official's work queue: what waits for the roles they
hold in the program's own district, nothing of another district's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import Membership
from settlements.queue import settlement_work_queue
from settlements.services import (
    settlement_approve,
    settlement_pass_on,
    settlement_start_review,
    settlement_submit,
)
from tests.accounts.factories import DistrictFactory
from tests.settlements.factories import actor, build, charge, drawn, last_month_instant
from tests.vouchers.factories import client_for, official, platform_actor, with_mfa

pytestmark = pytest.mark.django_db


def counts(user) -> dict[str, int]:
    return {item.label: item.count for item in settlement_work_queue(user)}


def submitted(world):
    charge(world, billed="1000", reference="inv-1", at=last_month_instant())
    settlement = drawn(world)
    return settlement_submit(
        actor=platform_actor(world.platform),
        platform=world.platform,
        settlement_id=settlement.pk,
        invoice_number="INV-1",
        invoice_amount=settlement.amount_due,
    )


def test_each_role_sees_what_waits_for_it_in_its_own_district() -> None:
    world = build(threshold=Decimal("100"))
    settlement = submitted(world)
    assert counts(world.reviewer)["Settlements submitted, to take up"] == 1
    assert counts(world.finance)["Settlements passed to finance, to approve"] == 0
    # Nothing for a program manager, nor for another district's finance officer.
    assert counts(world.manager) == {}
    assert set(counts(world.outsider_finance).values()) == {0}
    reviewer_elsewhere = official(DistrictFactory(code="520100"), Membership.Role.REVIEWER)
    assert set(counts(reviewer_elsewhere).values()) == {0}

    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    assert counts(world.reviewer)["Settlements under review, to pass on or return"] == 1
    settlement = settlement_pass_on(actor=actor(world.reviewer), settlement=settlement)
    assert counts(world.reviewer)["Settlements under review, to pass on or return"] == 0
    assert counts(world.finance)["Settlements passed to finance, to approve"] == 1
    settlement = settlement_approve(actor=actor(world.finance), settlement=settlement)
    # The first approver waits for someone else: not in their own queue.
    assert counts(world.finance)["Settlements passed to finance, to approve"] == 0
    assert counts(world.finance_2)["Settlements passed to finance, to approve"] == 1
    settlement_approve(actor=actor(world.finance_2), settlement=settlement)
    assert counts(world.finance)["Approved settlements not yet paid in full"] == 1


def test_the_admin_home_shows_the_queue() -> None:
    world = build()
    submitted(world)
    response = client_for(with_mfa(world.reviewer)).get("/admin/")
    assert response.status_code == 200
    assert "Settlements submitted, to take up" in response.content.decode()


def test_each_line_links_to_exactly_the_settlements_it_counts() -> None:
    world = build(threshold=Decimal("100"))
    settlement = submitted(world)
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    settlement = settlement_pass_on(actor=actor(world.reviewer), settlement=settlement)
    settlement_approve(actor=actor(world.finance), settlement=settlement)
    # Under review, passed to finance and approved once: the reviewer has
    # nothing left to do with it, the second finance officer has it to approve.
    expected = {
        world.reviewer: {"Settlements under review, to pass on or return": 0},
        world.finance: {"Settlements passed to finance, to approve": 0},
        world.finance_2: {"Settlements passed to finance, to approve": 1},
    }
    for user, lines in expected.items():
        client = client_for(with_mfa(user))
        for item in settlement_work_queue(user):
            if item.label in lines:
                assert item.count == lines[item.label]
            response = client.get(item.url)
            assert response.status_code == 200
            assert response.context["cl"].result_count == item.count, item.label
