"""The admin home's work queue, role by role: each official sees exactly what
waits for the roles they hold, in their own districts only; each line's link
opens the admin list filtered to the rows it counted; vouchers about to
expire are counted by the Shanghai date.

(The settlements' own lines are pinned in tests/settlements/test_work_queue.py.)"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from django.utils.html import escape

from accounts.models import District, Membership, User
from applications.models import Application, BulkIssuance
from common.work_queue import Urgency, work_queue
from oversight.models import AnomalyFlag
from programs.models import Program
from tests.accounts.factories import DistrictFactory, EnterpriseFactory
from tests.applications.factories import application
from tests.programs.factories import open_program
from tests.vouchers.factories import SHANGHAI, client_for, issue, official, with_mfa
from vouchers.models import Receivable, Voucher

pytestmark = pytest.mark.django_db

Role = Membership.Role

TO_TAKE_UP = "Applications submitted, to take up"
TO_DECIDE = "Applications under review, to decide"
SECOND_APPROVAL = "Applications awaiting a second approval"
BULK = "Bulk issuances awaiting a second official's confirmation"
EXPIRING = "Active vouchers expiring within 30 days"
FLAGS = "Anomaly flags to decide"
SETTLEMENTS_SUBMITTED = "Settlements submitted, to take up"
SETTLEMENTS_IN_REVIEW = "Settlements under review, to pass on or return"
SETTLEMENTS_TO_APPROVE = "Settlements passed to finance, to approve"
SETTLEMENTS_TO_PAY = "Approved settlements not yet paid in full"
CLAWBACKS = "Clawbacks past their due date, to collect"


@dataclass
class Officials:
    district: District
    program: Program
    manager: User
    reviewer: User
    auditor: User
    finance: User
    #: A reviewer and program manager of the district at once.
    both: User


def officials(code: str) -> Officials:
    district = DistrictFactory(code=code)
    return Officials(
        district=district,
        program=open_program(district=district, four_eyes_threshold=Decimal("50000")),
        manager=official(district, Role.PROGRAM_MANAGER),
        reviewer=official(district, Role.REVIEWER),
        auditor=official(district, Role.AUDITOR),
        finance=official(district, Role.FINANCE_OFFICER),
        both=official(district, Role.REVIEWER, Role.PROGRAM_MANAGER),
    )


def shanghai_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=SHANGHAI)


def expiring_on(program: Program, last_valid_day: datetime.date) -> Voucher:
    """An active voucher of ``program`` whose last valid day (Shanghai) is ``last_valid_day``."""
    voucher = issue(program, EnterpriseFactory(division=program.district.code))
    Voucher.objects.filter(pk=voucher.pk).update(
        expires_at=shanghai_midnight(last_valid_day + datetime.timedelta(days=1))
    )
    return voucher


def work_in(a: Officials) -> None:
    """District A's work: two applications to take up, one under review, two
    first-approved (one by A's reviewer, one by the reviewer-manager), two
    bulk issuances (one uploaded by each manager), vouchers expiring within
    30 days and later, open and decided flags, an overdue clawback."""
    program = a.program

    def applied(status: str, first_approver: User | None = None) -> Application:
        app = application(
            EnterpriseFactory(division=a.district.code),
            program,
            status=status,
            amount=Decimal("80000"),
            with_document=False,
        )
        if first_approver is not None:
            Application.objects.filter(pk=app.pk).update(first_approved_by=first_approver)
        return app

    applied(Application.Status.SUBMITTED)
    applied(Application.Status.SUBMITTED)
    applied(Application.Status.UNDER_REVIEW)
    applied(Application.Status.AWAITING_SECOND_APPROVAL, a.reviewer)
    applied(Application.Status.AWAITING_SECOND_APPROVAL, a.both)
    # Decided ones wait for nobody.
    applied(Application.Status.APPROVED)
    applied(Application.Status.DRAFT)
    for uploader in (a.manager, a.both):
        BulkIssuance.objects.create(
            program=program, rows=[], total=Decimal("60000"), created_by=uploader
        )
    today = timezone.localdate()
    expiring_on(program, today + datetime.timedelta(days=3))
    expiring_on(program, today + datetime.timedelta(days=30))
    expiring_on(program, today + datetime.timedelta(days=31))
    for status in (AnomalyFlag.Status.OPEN, AnomalyFlag.Status.OPEN, AnomalyFlag.Status.DISMISSED):
        AnomalyFlag.objects.create(
            detector=AnomalyFlag.Detector.ROUND_BILLS,
            district=a.district,
            program=program,
            subject=f"program:{program.pk}/{AnomalyFlag.objects.count()}",
            period_start=today,
            period_end=today,
            score=Decimal("1"),
            status=status,
            **(
                {}
                if status == AnomalyFlag.Status.OPEN
                else {"decided_by": a.reviewer, "decided_at": timezone.now(), "decision_note": "n"}
            ),
        )
    Receivable.objects.create(
        enterprise=EnterpriseFactory(division=a.district.code),
        program=program,
        amount=Decimal("100.00"),
        unit="CNY",
        reason="r",
        due_on=today - datetime.timedelta(days=1),
        created_by="m",
    )


def counts(user: User) -> dict[str, int]:
    return {item.label: item.count for item in work_queue(user)}


REVIEWER = {
    SECOND_APPROVAL: 1,
    FLAGS: 2,
    TO_DECIDE: 1,
    TO_TAKE_UP: 2,
    SETTLEMENTS_SUBMITTED: 0,
    SETTLEMENTS_IN_REVIEW: 0,
}
MANAGER = {EXPIRING: 2, BULK: 1, FLAGS: 2}
FINANCE = {CLAWBACKS: 1, SETTLEMENTS_TO_APPROVE: 0, SETTLEMENTS_TO_PAY: 0}


@pytest.fixture
def two_districts() -> tuple[Officials, Officials]:
    a, b = officials("420103"), officials("520100")
    work_in(a)
    # B has an open receivable of its own (not yet due): its finance officer
    # is shown the clawback line, with none of A's.
    Receivable.objects.create(
        enterprise=EnterpriseFactory(division="520100"),
        program=b.program,
        amount=Decimal("50.00"),
        unit="CNY",
        reason="r",
        due_on=timezone.localdate() + datetime.timedelta(days=10),
        created_by="m",
    )
    return a, b


def test_each_role_sees_exactly_its_own_work(two_districts: Any) -> None:
    a, _ = two_districts
    assert counts(a.reviewer) == REVIEWER
    assert counts(a.manager) == MANAGER
    assert counts(a.finance) == FINANCE
    # Auditors read, never act: nothing waits for them.
    assert counts(a.auditor) == {}


def test_a_second_approval_never_waits_for_the_official_who_gave_the_first(
    two_districts: Any,
) -> None:
    a, _ = two_districts
    another_reviewer = official(a.district, Role.REVIEWER)
    assert counts(another_reviewer)[SECOND_APPROVAL] == 2
    assert counts(a.reviewer)[SECOND_APPROVAL] == 1
    assert counts(a.both)[SECOND_APPROVAL] == 1
    another_manager = official(a.district, Role.PROGRAM_MANAGER)
    assert counts(another_manager)[BULK] == 2
    assert counts(a.manager)[BULK] == 1


def test_an_official_of_another_district_sees_none_of_its_work(two_districts: Any) -> None:
    _, b = two_districts
    assert counts(b.reviewer) == dict.fromkeys(REVIEWER, 0)
    assert counts(b.manager) == dict.fromkeys(MANAGER, 0)
    assert counts(b.finance) == dict.fromkeys(FINANCE, 0)
    assert counts(b.both) == dict.fromkeys([*REVIEWER, *MANAGER], 0)
    assert counts(b.auditor) == {}


def test_an_official_holding_two_roles_sees_both_sets(two_districts: Any) -> None:
    a, _ = two_districts
    assert counts(a.both) == {**REVIEWER, **MANAGER}
    # Each line says which role it is for.
    roles = {item.label: item.role for item in work_queue(a.both)}
    assert roles[TO_TAKE_UP] == "Reviewer"
    assert roles[EXPIRING] == "Program manager"


def test_the_most_urgent_work_comes_first(two_districts: Any) -> None:
    a, _ = two_districts
    queue = work_queue(a.both)
    assert [item.urgency for item in queue] == sorted(item.urgency for item in queue)
    labels = [item.label for item in queue]
    assert labels.index(EXPIRING) < labels.index(SECOND_APPROVAL) < labels.index(TO_DECIDE)
    assert labels[-1] in (TO_TAKE_UP, SETTLEMENTS_SUBMITTED)
    assert work_queue(a.finance)[0].urgency == Urgency.OVERDUE


def test_each_link_opens_the_list_of_exactly_the_rows_counted(two_districts: Any) -> None:
    a, b = two_districts
    for user in (a.reviewer, a.manager, a.finance, a.both, b.both, b.finance):
        client = client_for(with_mfa(user))
        for item in work_queue(user):
            response = client.get(item.url)
            assert response.status_code == 200, item.url
            changelist = response.context["cl"]
            assert changelist.result_count == item.count, (user, item.label)
            # The list offers the same filter by name in its sidebar.
            assert escape(item.label) in response.content.decode()


def test_a_waiting_filter_of_another_list_or_role_shows_nothing(two_districts: Any) -> None:
    a, _ = two_districts
    client = client_for(with_mfa(a.reviewer))
    manager_work = next(item for item in work_queue(a.manager) if item.label == EXPIRING)
    response = client.get(manager_work.url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
    response = client.get("/admin/applications/application/?waiting=vouchers.expiring")
    assert response.context["cl"].result_count == 0


def test_the_home_lists_what_waits_most_urgent_first(two_districts: Any) -> None:
    a, _ = two_districts
    page = client_for(with_mfa(a.both)).get("/admin/").content.decode()
    module = page[page.index('id="work-queue-module"') :]
    assert module.index(EXPIRING) < module.index(SECOND_APPROVAL) < module.index(TO_TAKE_UP)
    # Lines with nothing waiting are left out.
    assert SETTLEMENTS_SUBMITTED not in module
    assert "Nothing waits for you right now." not in module


def test_the_home_says_when_nothing_waits(two_districts: Any) -> None:
    a, b = two_districts
    for user in (a.auditor, b.reviewer):
        page = client_for(with_mfa(user)).get("/admin/").content.decode()
        assert "Nothing waits for you right now." in page
        assert TO_TAKE_UP not in page


@pytest.mark.parametrize(
    ("moment", "counted"),
    [
        # The last valid day is D + 31 seen from D at 23:59:59: not yet within 30 days.
        (datetime.time(23, 59, 59), False),
        # One second later (D + 1 at 00:00 in Shanghai, 16:00 UTC): within 30 days.
        (datetime.time(0, 0, 0), True),
    ],
)
def test_expiry_is_counted_by_the_shanghai_date_around_midnight(
    moment: datetime.time, counted: bool
) -> None:
    a = officials("420103")
    day = timezone.localdate() + datetime.timedelta(days=2)
    last_valid_day = day + datetime.timedelta(days=31)
    voucher = expiring_on(a.program, last_valid_day)
    seen_from = day if moment != datetime.time.min else day + datetime.timedelta(days=1)
    instant = datetime.datetime.combine(seen_from, moment, tzinfo=SHANGHAI)
    with time_machine.travel(instant, tick=False):
        assert counts(a.manager)[EXPIRING] == int(counted)
        rows = client_for(with_mfa(a.manager)).get(work_queue(a.manager)[0].url)
        assert [v.pk for v in rows.context["cl"].result_list] == ([voucher.pk] if counted else [])


def test_a_voucher_leaves_the_queue_the_moment_it_expires() -> None:
    a = officials("420103")
    last_valid_day = timezone.localdate() + datetime.timedelta(days=2)
    expiring_on(a.program, last_valid_day)
    end = shanghai_midnight(last_valid_day + datetime.timedelta(days=1))
    with time_machine.travel(end - datetime.timedelta(seconds=1), tick=False):
        assert counts(a.manager)[EXPIRING] == 1
    with time_machine.travel(end, tick=False):
        assert counts(a.manager)[EXPIRING] == 0
