"""Performance agreements and their receivables: opening, assignment,
assessment, decision with its clawback (proportional or whole, on a voucher
or not), repayment, write-off, reminders and the audit trail of each step."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.models import Enterprise, Membership, User
from audit import events
from audit.models import AuditEvent, AuditSeal
from audit.services import Actor, audit_seal_pending
from audit.verification import audit_verify
from common.errors import BusinessError
from config.beat import PERIODIC_TASKS
from programs.models import Program
from settlements import tasks
from settlements.agreements import (
    add_months,
    agreement_assign,
    agreement_decide,
    agreement_open,
    agreement_record_assessment,
    agreements_due,
)
from settlements.models import (
    Obligation,
    PerformanceAgreement,
    ReceivableReminder,
    Repayment,
)
from settlements.receivables import (
    receivable_repay,
    receivable_write_off,
    receivables_remind,
)
from tests.accounts.factories import ComputePlatformFactory, DistrictFactory, EnterpriseFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import frozen, issue, member, official, platform_actor, shanghai
from vouchers.models import Receivable, Voucher
from vouchers.services import voucher_redeem

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

Role = Membership.Role
Status = PerformanceAgreement.Status
SUBSIDY = Decimal("123456.78")
TARGETS = [{"kind": "headcount", "target": "20"}, {"kind": "local_tax", "target": "100000"}]
# Starts long ago: its assessment date (a year later) has come whatever today is.
STARTS_ON = datetime.date(2024, 1, 31)


@dataclass
class World:
    program: Program
    enterprise: Enterprise
    admin_en: User
    admin_zh: User
    manager: User
    manager_2: User
    assessor: User
    finance: User
    finance_2: User
    reviewer: User
    outsider_manager: User
    outsider_assessor: User
    outsider_finance: User


def build(**program: Any) -> World:
    jianghan = DistrictFactory(code="420103")
    guiyang = DistrictFactory(code="520100")
    enterprise = EnterpriseFactory(district=jianghan)
    return World(
        program=ProgramFactory(
            district=jianghan,
            requires_agreement=True,
            agreement_targets=TARGETS,
            agreement_term_months=12,
            clawback_due_days=30,
            **program,
        ),
        enterprise=enterprise,
        admin_en=member(enterprise),
        admin_zh=member(enterprise, preferred_language="zh-hans"),
        manager=official(jianghan, Role.PROGRAM_MANAGER),
        manager_2=official(jianghan, Role.PROGRAM_MANAGER),
        assessor=official(jianghan, Role.ASSESSOR),
        finance=official(jianghan, Role.FINANCE_OFFICER),
        finance_2=official(jianghan, Role.FINANCE_OFFICER),
        reviewer=official(jianghan, Role.REVIEWER),
        outsider_manager=official(guiyang, Role.PROGRAM_MANAGER),
        outsider_assessor=official(guiyang, Role.ASSESSOR),
        outsider_finance=official(guiyang, Role.FINANCE_OFFICER),
    )


def act(user: User) -> Actor:
    return Actor.for_user(user)


SYSTEM = Actor.system("claim-approval")


def opened(world: World, **kwargs: Any) -> PerformanceAgreement:
    agreement = agreement_open(
        actor=SYSTEM,
        program=world.program,
        enterprise=world.enterprise,
        subsidy=kwargs.pop("subsidy", SUBSIDY),
        starts_on=kwargs.pop("starts_on", STARTS_ON),
        **kwargs,
    )
    assert agreement is not None
    return agreement


def assessed(world: World, measured: dict[str, str], **kwargs: Any) -> PerformanceAgreement:
    agreement = opened(world, **kwargs)
    agreement_assign(actor=act(world.manager), agreement=agreement, assessor=world.assessor)
    return agreement_record_assessment(
        actor=act(world.assessor),
        agreement=agreement,
        measured={kind: Decimal(value) for kind, value in measured.items()},
        report="Payroll and tax records checked on site.",
    )


def decided(world: World, measured: dict[str, str], **kwargs: Any) -> PerformanceAgreement:
    agreement = assessed(world, measured, **kwargs)
    return agreement_decide(actor=act(world.manager_2), agreement=agreement, note="Decided.")


def trail(obj: Any) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=str(obj.pk)
        )
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def returned(program: Program) -> Decimal:
    """What came back to the budget: returned by vouchers' ledgers, or recovered on claims."""
    program.refresh_from_db()
    return program.returned_amount + program.recovered_amount


def refused(field: str | None = None) -> Any:
    class _Refused:
        def __enter__(self) -> None:
            return None

        def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
            assert isinstance(exc, BusinessError), f"expected a refusal, got {exc!r}"
            assert exc.field == field, exc.message
            return True

    return _Refused()


# --- Opening ---------------------------------------------------------------------


def test_a_program_without_agreements_opens_none() -> None:
    world = build()
    Program.objects.filter(pk=world.program.pk).update(requires_agreement=False)
    world.program.refresh_from_db()
    assert (
        agreement_open(
            actor=SYSTEM,
            program=world.program,
            enterprise=world.enterprise,
            subsidy=SUBSIDY,
            starts_on=STARTS_ON,
        )
        is None
    )
    assert not PerformanceAgreement.objects.exists()


def test_opening_creates_the_obligations_and_the_assessment_date_in_calendar_months() -> None:
    world = build()
    agreement = opened(world)
    assert agreement.status == Status.ACTIVE
    assert agreement.assess_on == datetime.date(2025, 1, 31)
    assert [(o.kind, o.target) for o in agreement.obligations.order_by("id")] == [
        ("headcount", Decimal("20.00")),
        ("local_tax", Decimal("100000.00")),
    ]
    event = AuditEvent.objects.get(event_type=events.AGREEMENT_CREATED)
    assert event.district_id == world.program.district_id
    assert event.enterprise_id == world.enterprise.pk
    assert event.after["assess_on"] == "2025-01-31"


def test_calendar_months_clamp_to_the_end_of_a_shorter_month() -> None:
    assert add_months(datetime.date(2023, 1, 31), 1) == datetime.date(2023, 2, 28)
    assert add_months(datetime.date(2024, 1, 31), 1) == datetime.date(2024, 2, 29)
    assert add_months(datetime.date(2024, 1, 31), 13) == datetime.date(2025, 2, 28)
    assert add_months(datetime.date(2024, 11, 30), 3) == datetime.date(2025, 2, 28)
    assert add_months(datetime.date(2024, 3, 15), 12) == datetime.date(2025, 3, 15)


@pytest.mark.parametrize(
    "targets",
    [
        [],
        [{"kind": "profit", "target": "1"}],
        [{"kind": "headcount", "target": "0"}],
        [{"kind": "headcount", "target": "-3"}],
        [{"kind": "headcount", "target": "1.234"}],
        [{"kind": "headcount", "target": "many"}],
        [{"kind": "headcount", "target": "5"}, {"kind": "headcount", "target": "6"}],
    ],
)
def test_a_program_with_missing_or_bad_targets_refuses_to_open(targets: list[Any]) -> None:
    world = build()
    Program.objects.filter(pk=world.program.pk).update(agreement_targets=targets)
    world.program.refresh_from_db()
    with refused("agreement_targets"):
        opened(world)
    assert not PerformanceAgreement.objects.exists()


def test_opening_refuses_a_bad_subsidy_and_a_voucher_of_another_enterprise() -> None:
    world = build()
    for subsidy in (Decimal("0"), Decimal("-1"), Decimal("1.001"), 100):
        with refused("subsidy"):
            opened(world, subsidy=subsidy)
    voucher = issue(world.program, EnterpriseFactory(), "1000.00")
    with refused("voucher"):
        opened(world, voucher=voucher)


def test_a_voucher_comes_with_one_agreement_only() -> None:
    world = build()
    voucher = issue(world.program, world.enterprise, "1000.00")
    opened(world, voucher=voucher, subsidy=Decimal("1000.00"))
    with refused("voucher"):
        opened(world, voucher=voucher, subsidy=Decimal("1000.00"))


# --- Assignment and assessment ---------------------------------------------------


def test_only_a_program_manager_of_the_district_assigns() -> None:
    world = build()
    agreement = opened(world)
    for user in (world.reviewer, world.finance, world.outsider_manager, world.assessor):
        with pytest.raises(PermissionDenied):
            agreement_assign(actor=act(user), agreement=agreement, assessor=world.assessor)
    agreement.refresh_from_db()
    assert agreement.status == Status.ACTIVE


def test_the_assessor_must_be_engaged_by_the_district_and_independent() -> None:
    world = build()
    agreement = opened(world)
    for candidate in (world.outsider_assessor, world.reviewer, world.manager_2):
        with refused("assessor"):
            agreement_assign(actor=act(world.manager), agreement=agreement, assessor=candidate)
    Membership.objects.create(
        user=world.assessor, role=Role.ENTERPRISE_MEMBER, enterprise=world.enterprise
    )
    with refused("assessor"):
        agreement_assign(actor=act(world.manager), agreement=agreement, assessor=world.assessor)


def test_an_agreement_is_assigned_from_its_assessment_date_in_shanghai() -> None:
    world = build()
    agreement = opened(world, starts_on=datetime.date(2025, 2, 1))  # assessed from 2026-02-01
    with frozen(shanghai(2026, 1, 31, 23, 59)), refused("status"):
        agreement_assign(actor=act(world.manager), agreement=agreement, assessor=world.assessor)
    # 00:10 in Shanghai is still 31 January in UTC.
    with frozen(shanghai(2026, 2, 1, 0, 10)):
        agreement_assign(actor=act(world.manager), agreement=agreement, assessor=world.assessor)
    agreement.refresh_from_db()
    assert agreement.status == Status.ASSESSMENT
    assert agreement.assessor == world.assessor and agreement.assigned_by == world.manager


def test_only_the_assigned_assessor_records_the_assessment() -> None:
    world = build()
    agreement = opened(world)
    agreement_assign(actor=act(world.manager), agreement=agreement, assessor=world.assessor)
    other = official(world.program.district, Role.ASSESSOR)
    measured = {"headcount": Decimal("20"), "local_tax": Decimal("100000")}
    for user in (other, world.manager, world.manager_2, world.outsider_assessor):
        with pytest.raises(PermissionDenied):
            agreement_record_assessment(
                actor=act(user), agreement=agreement, measured=measured, report="ok"
            )


@pytest.mark.parametrize(
    ("measured", "report", "field"),
    [
        ({"headcount": Decimal("20")}, "report", "measured"),
        ({"headcount": Decimal("20"), "local_tax": Decimal("-1")}, "report", "measured"),
        ({"headcount": Decimal("20"), "local_tax": 1.5}, "report", "measured"),
        ({"headcount": Decimal("20"), "local_tax": Decimal("1.005")}, "report", "measured"),
        (
            {"headcount": Decimal("20"), "local_tax": Decimal("1"), "compute": Decimal("1")},
            "report",
            "measured",
        ),
        ({"headcount": Decimal("20"), "local_tax": Decimal("1")}, "   ", "report"),
    ],
)
def test_an_assessment_measures_every_obligation_and_has_a_report(
    measured: dict[str, Any], report: str, field: str
) -> None:
    world = build()
    agreement = opened(world)
    agreement_assign(actor=act(world.manager), agreement=agreement, assessor=world.assessor)
    with refused(field):
        agreement_record_assessment(
            actor=act(world.assessor), agreement=agreement, measured=measured, report=report
        )
    agreement.refresh_from_db()
    assert agreement.status == Status.ASSESSMENT
    assert not Obligation.objects.filter(measured__isnull=False).exists()


def test_the_shortfall_is_the_mean_of_the_obligations_to_six_places() -> None:
    world = build()
    agreement = assessed(world, {"headcount": "15", "local_tax": "80000"})
    assert agreement.status == Status.ASSESSED
    assert agreement.shortfall == Decimal("0.225000")
    assert agreement.assessed_at is not None
    # A third of one target missed, the other met: 1/6 rounded half up.
    Program.objects.filter(pk=world.program.pk).update(
        agreement_targets=[
            {"kind": "headcount", "target": "3"},
            {"kind": "local_tax", "target": "1"},
        ]
    )
    world.program.refresh_from_db()
    agreement = assessed(world, {"headcount": "2", "local_tax": "5"})
    agreement.refresh_from_db()
    assert agreement.shortfall == Decimal("0.166667")


# --- Decision and clawback -----------------------------------------------------------


def test_a_met_agreement_claws_nothing_back() -> None:
    world = build()
    agreement = decided(world, {"headcount": "25", "local_tax": "100000"})
    assert agreement.status == Status.MET
    assert agreement.receivable is None and agreement.decided_by == world.manager_2
    assert not Receivable.objects.exists()
    event = AuditEvent.objects.get(event_type=events.AGREEMENT_DECIDED)
    assert event.after["outcome"] == "met" and event.after["amount"] == "0"


def test_partly_met_under_the_proportional_rule_claws_back_subsidy_times_shortfall() -> None:
    world = build(clawback_rule=Program.ClawbackRule.PROPORTIONAL)
    with frozen(shanghai(2025, 3, 1, 0, 30)):  # 28 February in UTC
        agreement = decided(world, {"headcount": "15", "local_tax": "80000"})
    assert agreement.status == Status.PARTLY_MET
    receivable = agreement.receivable
    # 123,456.78 × 0.225 = 27,777.7755 → 27,777.78 (to the fen, half up)
    assert receivable.amount == Decimal("27777.78")
    assert receivable.unit == "CNY" and receivable.voucher is None
    assert receivable.due_on == datetime.date(2025, 3, 31)
    assert receivable.status == Receivable.Status.OPEN and receivable.outstanding == Decimal(
        "27777.78"
    )
    assert receivable.enterprise == world.enterprise and receivable.program == world.program
    event = AuditEvent.objects.get(event_type=events.AGREEMENT_DECIDED)
    assert event.after["outcome"] == "partly_met" and event.after["amount"] == "27777.78"


def test_the_proportional_rule_rounds_a_repeating_shortfall_half_up() -> None:
    world = build()
    Program.objects.filter(pk=world.program.pk).update(
        agreement_targets=[
            {"kind": "headcount", "target": "3"},
            {"kind": "local_tax", "target": "1"},
        ]
    )
    world.program.refresh_from_db()
    agreement = decided(world, {"headcount": "2", "local_tax": "1"})
    # 123,456.78 × 0.166667 = 20,576.17115226 → 20,576.17
    assert agreement.status == Status.PARTLY_MET
    assert agreement.receivable.amount == Decimal("20576.17")


def test_an_obligation_at_nothing_is_missed_even_under_the_proportional_rule() -> None:
    world = build(clawback_rule=Program.ClawbackRule.PROPORTIONAL)
    agreement = decided(world, {"headcount": "0", "local_tax": "100000"})
    assert agreement.status == Status.MISSED
    assert agreement.shortfall == Decimal("0.500000")
    assert agreement.receivable.amount == Decimal("61728.39")


def test_under_the_whole_rule_any_shortfall_claws_back_the_whole_subsidy() -> None:
    world = build(clawback_rule=Program.ClawbackRule.WHOLE)
    agreement = decided(world, {"headcount": "19.5", "local_tax": "100000"})
    assert agreement.status == Status.MISSED
    assert agreement.shortfall == Decimal("0.012500")
    assert agreement.receivable.amount == SUBSIDY


def test_under_the_whole_rule_a_met_agreement_claws_nothing_back() -> None:
    world = build(clawback_rule=Program.ClawbackRule.WHOLE)
    agreement = decided(world, {"headcount": "20", "local_tax": "250000"})
    assert agreement.status == Status.MET
    assert agreement.receivable is None


def test_the_manager_who_assigned_may_not_decide() -> None:
    world = build()
    agreement = assessed(world, {"headcount": "15", "local_tax": "80000"})
    for user in (world.manager, world.assessor, world.finance, world.outsider_manager):
        with pytest.raises(PermissionDenied):
            agreement_decide(actor=act(user), agreement=agreement)
    agreement.refresh_from_db()
    assert agreement.status == Status.ASSESSED


def test_only_an_assessed_agreement_is_decided_and_only_once() -> None:
    world = build()
    agreement = opened(world)
    with refused("status"):
        agreement_decide(actor=act(world.manager_2), agreement=agreement)
    agreement = decided(world, {"headcount": "15", "local_tax": "80000"})
    with refused("status"):
        agreement_decide(actor=act(world.manager), agreement=agreement)
    assert Receivable.objects.count() == 1


# --- On a voucher -----------------------------------------------------------------


def voucher_world(**program: Any) -> tuple[World, Voucher]:
    """A contract voucher of 10,000 at rate 0.30, of which 3,000 was covered."""
    world = build(**program)
    platform = ComputePlatformFactory()
    bind(world.program, platform)
    voucher = issue(world.program, world.enterprise, "10000.00")
    voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference="charge-1",
        occurred_at=timezone.now(),
        billed_amount=Decimal("10000.00"),
    )
    return world, voucher


def test_a_voucher_in_use_is_clawed_back_through_the_voucher_services() -> None:
    with frozen(shanghai(2025, 1, 10, 10)):
        world, voucher = voucher_world(clawback_rule=Program.ClawbackRule.PROPORTIONAL)
    before = returned(world.program)
    # 23:50 on 10 June in Shanghai (15:50 UTC): due 30 days from the Shanghai date.
    with frozen(shanghai(2025, 6, 10, 23, 50)):
        agreement = decided(
            world,
            {"headcount": "15", "local_tax": "80000"},
            voucher=voucher,
            subsidy=Decimal("10000.00"),
        )
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.CLAWED_BACK and voucher.balance == 0
    receivable = agreement.receivable
    assert receivable.voucher == voucher
    assert receivable.amount == Decimal("2250.00")  # 10,000 × 0.225, under the 3,000 covered
    assert receivable.due_on == datetime.date(2025, 7, 10)
    # The remainder (7,000) and the clawback (2,250) went back to the budget.
    assert returned(world.program) - before == Decimal("9250.00")
    assert trail(receivable) == [events.RECEIVABLE_CREATED]
    # Repaying it does not return the clawback to the budget a second time.
    receivable_repay(
        actor=act(world.finance),
        receivable=receivable,
        amount=Decimal("2250.00"),
        paid_on=datetime.date(2025, 6, 10),
        reference="BOC-1",
    )
    assert returned(world.program) - before == Decimal("9250.00")
    receivable.refresh_from_db()
    assert receivable.status == Receivable.Status.SETTLED


def test_a_voucher_clawback_is_at_most_what_the_voucher_covered() -> None:
    world, voucher = voucher_world(clawback_rule=Program.ClawbackRule.WHOLE)
    agreement = decided(
        world,
        {"headcount": "15", "local_tax": "80000"},
        voucher=voucher,
        subsidy=Decimal("10000.00"),
    )
    assert agreement.status == Status.MISSED
    assert agreement.receivable.amount == Decimal("3000.00")


def test_a_voucher_that_covered_nothing_is_revoked_and_nothing_is_owed() -> None:
    world = build(clawback_rule=Program.ClawbackRule.WHOLE)
    voucher = issue(world.program, world.enterprise, "10000.00")
    before = returned(world.program)
    agreement = decided(
        world,
        {"headcount": "15", "local_tax": "80000"},
        voucher=voucher,
        subsidy=Decimal("10000.00"),
    )
    voucher.refresh_from_db()
    assert agreement.status == Status.MISSED and agreement.receivable is None
    assert voucher.status == Voucher.Status.REVOKED
    assert returned(world.program) - before == Decimal("10000.00")
    assert not Receivable.objects.exists()


def test_a_voucher_no_longer_in_use_leaves_a_receivable_without_it() -> None:
    world, voucher = voucher_world()
    Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.EXPIRED, balance=0)
    agreement = decided(
        world,
        {"headcount": "15", "local_tax": "80000"},
        voucher=voucher,
        subsidy=Decimal("3000.00"),
    )
    assert agreement.receivable.voucher is None
    assert agreement.receivable.amount == Decimal("675.00")


# --- Repayment ---------------------------------------------------------------------


def owed(world: World) -> Receivable:
    """A receivable of 27,777.78 raised by a partly met agreement."""
    receivable = decided(world, {"headcount": "15", "local_tax": "80000"}).receivable
    assert receivable is not None
    return receivable


def test_repayments_return_exactly_their_amount_to_the_budget_until_settled() -> None:
    world = build()
    receivable = owed(world)
    before = returned(world.program)
    first = receivable_repay(
        actor=act(world.finance),
        receivable=receivable,
        amount=Decimal("10000.00"),
        paid_on=datetime.date(2025, 4, 1),
        reference="ICBC-20250401-1",
    )
    assert first.kind == Repayment.Kind.REPAYMENT and first.recorded_by == world.finance
    receivable.refresh_from_db()
    assert receivable.repaid_amount == Decimal("10000.00")
    assert receivable.outstanding == Decimal("17777.78")
    assert receivable.status == Receivable.Status.OPEN and receivable.settled_at is None
    assert returned(world.program) - before == Decimal("10000.00")
    receivable_repay(
        actor=act(world.finance_2),
        receivable=receivable,
        amount=Decimal("17777.78"),
        paid_on=datetime.date(2025, 4, 2),
        reference="ICBC-20250402-1",
    )
    receivable.refresh_from_db()
    assert receivable.status == Receivable.Status.SETTLED and receivable.settled_at is not None
    assert receivable.outstanding == 0
    assert returned(world.program) - before == Decimal("27777.78")
    with refused("status"):
        receivable_repay(
            actor=act(world.finance),
            receivable=receivable,
            amount=Decimal("0.01"),
            paid_on=datetime.date(2025, 4, 2),
            reference="again",
        )


def test_a_repayment_over_the_outstanding_amount_is_refused() -> None:
    world = build()
    receivable = owed(world)
    for amount in (Decimal("27777.79"), Decimal("0"), Decimal("-5"), Decimal("1.001")):
        with refused("amount"):
            receivable_repay(
                actor=act(world.finance),
                receivable=receivable,
                amount=amount,
                paid_on=datetime.date(2025, 4, 1),
                reference="ref",
            )
    assert not Repayment.objects.exists()


def test_a_repayment_dated_in_the_future_in_shanghai_is_refused() -> None:
    world = build()
    receivable = owed(world)
    # 00:30 on 1 March in Shanghai is still 28 February in UTC.
    with frozen(shanghai(2025, 3, 1, 0, 30)):
        with refused("paid_on"):
            receivable_repay(
                actor=act(world.finance),
                receivable=receivable,
                amount=Decimal("1.00"),
                paid_on=datetime.date(2025, 3, 2),
                reference="ref",
            )
        receivable_repay(
            actor=act(world.finance),
            receivable=receivable,
            amount=Decimal("1.00"),
            paid_on=datetime.date(2025, 3, 1),
            reference="ref",
        )
    assert Repayment.objects.get().paid_on == datetime.date(2025, 3, 1)


def test_a_repayment_needs_its_bank_reference() -> None:
    world = build()
    receivable = owed(world)
    with refused("reference"):
        receivable_repay(
            actor=act(world.finance),
            receivable=receivable,
            amount=Decimal("1.00"),
            paid_on=datetime.date(2025, 3, 1),
            reference="  ",
        )


def test_only_a_finance_officer_of_the_programs_district_records_repayments() -> None:
    world = build()
    receivable = owed(world)
    before = returned(world.program)
    for user in (world.outsider_finance, world.manager, world.reviewer, world.admin_en):
        with pytest.raises(PermissionDenied):
            receivable_repay(
                actor=act(user),
                receivable=receivable,
                amount=Decimal("1.00"),
                paid_on=datetime.date(2025, 3, 1),
                reference="ref",
            )
        with pytest.raises(PermissionDenied):
            receivable_write_off(
                actor=act(user),
                receivable=receivable,
                amount=Decimal("1.00"),
                reason="Decision JHQ-2025-7",
            )
    assert not Repayment.objects.exists()
    assert returned(world.program) == before


# --- Write-off ----------------------------------------------------------------------


def test_a_write_off_of_the_rest_after_a_repayment_closes_it_as_written_off() -> None:
    world = build()
    receivable = owed(world)
    before = returned(world.program)
    receivable_repay(
        actor=act(world.finance),
        receivable=receivable,
        amount=Decimal("7777.78"),
        paid_on=datetime.date(2025, 4, 1),
        reference="ICBC-1",
    )
    with refused("amount"):
        receivable_write_off(
            actor=act(world.finance_2),
            receivable=receivable,
            amount=Decimal("20000.01"),
            reason="Decision JHQ-2025-7",
        )
    with refused("reason"):
        receivable_write_off(
            actor=act(world.finance_2), receivable=receivable, amount=Decimal("1"), reason=""
        )
    write_off = receivable_write_off(
        actor=act(world.finance_2),
        receivable=receivable,
        amount=Decimal("20000.00"),
        reason="Program manager's decision JHQ-2025-7: the enterprise is in liquidation.",
    )
    assert write_off.kind == Repayment.Kind.WRITE_OFF
    receivable.refresh_from_db()
    assert receivable.status == Receivable.Status.WRITTEN_OFF
    assert receivable.written_off_amount == Decimal("20000.00") and receivable.outstanding == 0
    # Only the repayment came back to the budget.
    assert returned(world.program) - before == Decimal("7777.78")


def test_a_partial_write_off_leaves_the_rest_open_and_a_repayment_settles_it() -> None:
    world = build()
    receivable = owed(world)
    receivable_write_off(
        actor=act(world.finance),
        receivable=receivable,
        amount=Decimal("777.78"),
        reason="Decision JHQ-2025-8",
    )
    receivable.refresh_from_db()
    assert receivable.status == Receivable.Status.OPEN
    assert receivable.outstanding == Decimal("27000.00")
    receivable_repay(
        actor=act(world.finance),
        receivable=receivable,
        amount=Decimal("27000.00"),
        paid_on=datetime.date(2025, 4, 1),
        reference="ICBC-2",
    )
    receivable.refresh_from_db()
    # Something was written off, so it is not settled in full.
    assert receivable.status == Receivable.Status.WRITTEN_OFF


def test_the_official_who_decided_the_clawback_may_not_write_it_off() -> None:
    world = build()
    # A manager who is also a finance officer decides, then tries to write it off.
    Membership.objects.create(
        user=world.manager_2, role=Role.FINANCE_OFFICER, district=world.program.district
    )
    Membership.objects.create(
        user=world.manager, role=Role.FINANCE_OFFICER, district=world.program.district
    )
    receivable = owed(world)
    for user in (world.manager_2, world.manager):
        with pytest.raises(PermissionDenied):
            receivable_write_off(
                actor=act(user),
                receivable=receivable,
                amount=Decimal("27777.78"),
                reason="Decision JHQ-2025-9",
            )
    receivable_write_off(
        actor=act(world.finance),
        receivable=receivable,
        amount=Decimal("27777.78"),
        reason="Decision JHQ-2025-9",
    )
    receivable.refresh_from_db()
    assert receivable.status == Receivable.Status.WRITTEN_OFF


# --- Queue, reminders, task ---------------------------------------------------------


def test_the_queue_lists_agreements_in_force_whose_assessment_date_has_come() -> None:
    world = build()
    due = opened(world, starts_on=datetime.date(2024, 3, 1))  # assessed from 2025-03-01
    opened(world, starts_on=datetime.date(2024, 3, 2))
    taken = opened(world, starts_on=datetime.date(2024, 1, 1))
    agreement_assign(actor=act(world.manager), agreement=taken, assessor=world.assessor)
    assert list(agreements_due(today=datetime.date(2025, 3, 1))) == [due]
    with frozen(shanghai(2025, 3, 1, 0, 5)):  # 28 February in UTC
        assert list(agreements_due()) == [due]
    with frozen(shanghai(2025, 2, 28, 23, 55)):
        assert list(agreements_due()) == []


def reminded(today: datetime.date, capture: Any) -> int:
    with capture(execute=True):
        return receivables_remind(today=today)


def test_reminders_go_before_the_due_date_the_day_after_and_30_days_after_once_each(
    django_capture_on_commit_callbacks: Any,
) -> None:
    world = build()
    receivable = owed(world)
    Receivable.objects.filter(pk=receivable.pk).update(due_on=datetime.date(2025, 3, 20))
    calendar = [
        (datetime.date(2025, 3, 12), 0),
        (datetime.date(2025, 3, 13), 1),  # 7 days before
        (datetime.date(2025, 3, 13), 0),
        (datetime.date(2025, 3, 20), 0),
        (datetime.date(2025, 3, 21), 1),  # the day after
        (datetime.date(2025, 3, 22), 0),
        (datetime.date(2025, 4, 18), 0),
        (datetime.date(2025, 4, 19), 1),  # 30 days after
        (datetime.date(2025, 6, 1), 0),
    ]
    for today, count in calendar:
        assert reminded(today, django_capture_on_commit_callbacks) == count, today
    assert sorted(ReceivableReminder.objects.values_list("kind", flat=True)) == [
        "before_due",
        "overdue",
        "overdue_30",
    ]
    assert trail(receivable).count(events.RECEIVABLE_REMINDED) == 3
    # Each reminder once to each administrator, in their language.
    assert len(mail.outbox) == 6
    first_en, first_zh = mail.outbox[0], mail.outbox[1]
    assert {first_en.to[0], first_zh.to[0]} == {world.admin_en.email, world.admin_zh.email}
    english = next(m for m in mail.outbox[:2] if m.to == [world.admin_en.email])
    chinese = next(m for m in mail.outbox[:2] if m.to == [world.admin_zh.email])
    assert english.subject == "Repayment of ¥27,777.78 due on 2025-03-20"
    assert world.program.name_en in english.body and world.program.name in chinese.body


def test_reminders_follow_the_date_in_shanghai(django_capture_on_commit_callbacks: Any) -> None:
    world = build()
    receivable = owed(world)
    Receivable.objects.filter(pk=receivable.pk).update(due_on=datetime.date(2025, 3, 20))
    with frozen(shanghai(2025, 3, 12, 23, 55)):
        assert receivables_remind() == 0
    with frozen(shanghai(2025, 3, 13, 0, 5)), django_capture_on_commit_callbacks(execute=True):
        assert receivables_remind() == 1  # 12 March in UTC, 13 March in Shanghai
    with frozen(shanghai(2025, 3, 21, 0, 1)):
        assert receivables_remind() == 1


def test_a_receivable_settled_or_without_due_date_gets_no_reminder() -> None:
    world = build()
    receivable = owed(world)
    Receivable.objects.filter(pk=receivable.pk).update(due_on=None)
    assert receivables_remind(today=datetime.date(2030, 1, 1)) == 0
    Receivable.objects.filter(pk=receivable.pk).update(
        due_on=datetime.date(2025, 3, 20), status=Receivable.Status.SETTLED
    )
    assert receivables_remind(today=datetime.date(2025, 3, 21)) == 0
    assert not ReceivableReminder.objects.exists()


def test_the_reminders_run_as_a_scheduled_celery_task() -> None:
    assert any(row["task"] == "settlements.receivables_remind" for row in PERIODIC_TASKS.values())
    assert tasks.remind_receivables.name == "settlements.receivables_remind"
    assert tasks.remind_receivables.delay().get() == 0


# --- The audit trail ------------------------------------------------------------------


def test_every_step_is_in_the_audit_chain_in_order() -> None:
    world = build()
    agreement = decided(world, {"headcount": "15", "local_tax": "80000"})
    receivable = agreement.receivable
    receivable_repay(
        actor=act(world.finance),
        receivable=receivable,
        amount=Decimal("7777.78"),
        paid_on=datetime.date(2025, 4, 1),
        reference="ICBC-1",
    )
    receivable_write_off(
        actor=act(world.finance_2),
        receivable=receivable,
        amount=Decimal("20000.00"),
        reason="Decision JHQ-2025-7",
    )
    receivables_remind(today=datetime.date(2030, 1, 1))  # settled: nothing to remind
    assert trail(agreement) == [
        events.AGREEMENT_CREATED,
        events.AGREEMENT_ASSIGNED,
        events.AGREEMENT_ASSESSED,
        events.AGREEMENT_DECIDED,
    ]
    assert trail(receivable) == [
        events.RECEIVABLE_CREATED,
        events.RECEIVABLE_REPAID,
        events.RECEIVABLE_WRITTEN_OFF,
    ]
    actors = list(
        AuditEvent.objects.filter(object_id__in=[str(agreement.pk), str(receivable.pk)])
        .filter(event_type__startswith="agreement.")
        .order_by("id")
        .values_list("actor_user_id", flat=True)
    )
    assert actors == [None, world.manager.pk, world.assessor.pk, world.manager_2.pk]
    steps = AuditEvent.objects.filter(event_type__in=[*trail(agreement), *trail(receivable)])
    assert {(e.district_id, e.enterprise_id) for e in steps} == {
        (world.program.district_id, world.enterprise.pk)
    }
    decided_event = steps.get(event_type=events.AGREEMENT_DECIDED)
    assert decided_event.before == {"status": "assessed"}
    assert decided_event.after["status"] == "partly_met"
    audit_seal_pending(full_scan=True)
    assert AuditSeal.objects.filter(event__in=steps).count() == steps.count() == 7
    result = audit_verify()
    assert result.ok, result.problem
