"""``seed_demo``'s settlements: every state for the Wuhan and Jianghan programs,
drawn from real charges of past months and walked through the services by
the demo's officials, listed by ``--json``, checked by ``demo.checks``, and
made once."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ComputePlatform, Membership, User
from audit.models import AuditEvent
from demo.checks import demo_problems
from demo.seed_settlements import FINANCE_OFFICERS
from oversight.models import AnomalyFlag
from settlements.models import Payment, Settlement, SettlementLine
from settlements.periods import period_of
from vouchers.ledger import ledger_differences

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The seed sets a password for every demo user (see test_seed_demo)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed_json() -> dict[str, Any]:
    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_demo_has_settlements_in_every_state_for_wuhan_and_jianghan() -> None:
    data = seed_json()
    settlements = Settlement.objects.select_related("program__district")
    assert {s.status for s in settlements} == set(Settlement.Status.values)
    for code in ("420100", "420103"):
        assert settlements.filter(program__district__code=code).exists(), code
    # One with rejected lines, one partly paid.
    assert SettlementLine.objects.filter(status=SettlementLine.Status.REJECTED).exists()
    partly = [s for s in settlements if s.status == "approved" and s.paid_amount > 0]
    assert partly and all(s.paid_amount < s.approved_amount for s in partly)
    for settlement in settlements.filter(status=Settlement.Status.PAID):
        assert settlement.paid_amount == settlement.approved_amount > 0
        assert sum(p.amount for p in settlement.payments.all()) == settlement.paid_amount
    assert ledger_differences() == []

    listed = {row["id"]: row for row in data["settlements"]}
    assert set(listed) == {s.pk for s in settlements}
    for settlement in settlements:
        row = listed[settlement.pk]
        assert set(row) == {
            "id",
            "platform",
            "program",
            "period",
            "status",
            "amount_due",
            "approved_amount",
            "paid_amount",
        }
        assert row["platform"] == settlement.platform.slug
        assert row["program"] == settlement.program_id
        assert (row["period"], row["status"]) == (settlement.period, settlement.status)
        assert Decimal(row["amount_due"]) == settlement.amount_due
        assert Decimal(row["paid_amount"]) == settlement.paid_amount
        if settlement.approved_amount is None:
            assert row["approved_amount"] is None
        else:
            assert Decimal(row["approved_amount"]) == settlement.approved_amount
    assert demo_problems() == []


def test_the_settlements_are_of_past_months_from_charges_recorded_in_them() -> None:
    seed_json()
    this_month = period_of(timezone.localdate(), "month")
    assert Settlement.objects.exists()
    for settlement in Settlement.objects.all():
        assert settlement.ends_at <= this_month.bounds()[0]
        assert settlement.created_at >= settlement.ends_at  # drawn once its month ended
        for line in settlement.lines.all():
            assert settlement.starts_at <= line.recorded_at < settlement.ends_at


def test_the_walk_is_done_by_the_demo_officials_and_finance_officers() -> None:
    seed_json()
    for code, (email, _name) in FINANCE_OFFICERS.items():
        user = User.objects.get(email=email)
        assert user.memberships.filter(
            role=Membership.Role.FINANCE_OFFICER, district__code=code
        ).exists()
        assert not user.memberships.exclude(role=Membership.Role.FINANCE_OFFICER).exists()
    approved = Settlement.objects.filter(approved_by__isnull=False).select_related("approved_by")
    assert approved and {s.approved_by.email for s in approved} <= {
        email for email, _n in FINANCE_OFFICERS.values()
    }
    assert {p.recorded_by.email for p in Payment.objects.select_related("recorded_by")} <= {
        email for email, _n in FINANCE_OFFICERS.values()
    }
    kinds = set(
        AuditEvent.objects.filter(event_type__startswith="settlement.").values_list(
            "event_type", flat=True
        )
    )
    assert {
        "settlement.drawn",
        "settlement.submitted",
        "settlement.review_started",
        "settlement.returned",
        "settlement.line_rejected",
        "settlement.passed_to_finance",
        "settlement.approved",
        "settlement.payment_recorded",
        "settlement.paid",
    } <= kinds
    for platform in ComputePlatform.objects.all():
        assert platform.bank_account_name and platform.bank_name
        assert platform.bank_account_number


def test_the_platform_whose_rejected_share_jumped_is_flagged() -> None:
    data = seed_json()
    jumps = AnomalyFlag.objects.filter(detector=AnomalyFlag.Detector.REJECTED_SHARE)
    assert jumps.count() == 1
    flag = jumps.get()
    assert flag.platform.slug == "wuhan-aicc" and flag.district.code == "420100"
    assert any(f["detector"] == "rejected_share" for f in data["anomaly_flags"])
    # The demo's settlement months are older than the detection window.
    assert not AnomalyFlag.objects.filter(
        detector=AnomalyFlag.Detector.SETTLEMENT_EVIDENCE
    ).exists()


def test_a_second_run_makes_no_settlement_again() -> None:
    first = seed_json()
    events = AuditEvent.objects.count()
    second = seed_json()
    assert second["settlements"] == first["settlements"]
    assert AuditEvent.objects.count() == events
    roles = [login["role"] for login in second["logins"]]
    # One per district of demo/seed_settlements.py, and Beijing's (demo/seed_claims.py).
    assert sum(r.startswith("finance officer") for r in roles) == 5


def test_the_demo_check_says_which_state_is_missing() -> None:
    seed_json()
    assert demo_problems() == []
    Settlement.objects.filter(status=Settlement.Status.RETURNED).update(status="draft")
    assert any("returned" in problem for problem in demo_problems())
