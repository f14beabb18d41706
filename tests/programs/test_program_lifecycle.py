"""Program lifecycle: only the district's program managers move it, every move
audited, and no program opens without an exit date."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import Membership
from audit.models import AuditEvent
from audit.services import Actor
from common.errors import BusinessError
from programs.models import PhaseStep, Program
from programs.services import program_close, program_open, program_pause, program_resume
from tests.programs.factories import ProgramFactory, with_schedule
from tests.vouchers.factories import official

pytestmark = pytest.mark.django_db


def test_a_manager_opens_pauses_resumes_and_closes_and_each_move_is_audited(
    jianghan: Any, manager: Any
) -> None:
    program = with_schedule(ProgramFactory(draft=True, district=jianghan))
    actor = Actor.for_user(manager)
    program = program_open(actor=actor, program=program)
    assert program.status == Program.Status.OPEN
    program = program_pause(actor=actor, program=program)
    assert program.status == Program.Status.PAUSED
    program = program_resume(actor=actor, program=program)
    assert program.status == Program.Status.OPEN
    program = program_close(actor=actor, program=program)
    assert program.status == Program.Status.CLOSED
    events = list(
        AuditEvent.objects.filter(object_id=str(program.pk), object_type="vouchers.program")
        .order_by("pk")
        .values_list("event_type", "before", "after")
    )
    assert events == [
        ("program.opened", {"status": "draft"}, {"status": "open"}),
        ("program.paused", {"status": "open"}, {"status": "paused"}),
        ("program.resumed", {"status": "paused"}, {"status": "open"}),
        ("program.closed", {"status": "open"}, {"status": "closed"}),
    ]


def test_a_program_without_an_exit_date_cannot_be_opened(jianghan: Any, manager: Any) -> None:
    program = ProgramFactory(draft=True, district=jianghan)
    PhaseStep.objects.create(
        program=program, starts_on=datetime.date(2027, 1, 1), rate=Decimal("0.2")
    )
    with pytest.raises(BusinessError) as refused:
        program_open(actor=Actor.for_user(manager), program=program)
    assert "no exit" in str(refused.value.message)
    program.refresh_from_db()
    assert program.status == Program.Status.DRAFT


def test_a_program_without_any_schedule_cannot_be_opened(jianghan: Any, manager: Any) -> None:
    program = ProgramFactory(draft=True, district=jianghan)
    with pytest.raises(BusinessError):
        program_open(actor=Actor.for_user(manager), program=program)


@pytest.mark.parametrize("role", [Membership.Role.REVIEWER, Membership.Role.AUDITOR])
def test_other_officials_of_the_district_may_not_move_a_program(jianghan: Any, role: str) -> None:
    program = with_schedule(ProgramFactory(draft=True, district=jianghan))
    with pytest.raises(PermissionDenied):
        program_open(actor=Actor.for_user(official(jianghan, role)), program=program)


def test_another_districts_manager_may_not_move_a_program(jianghan: Any, guiyang: Any) -> None:
    program = with_schedule(ProgramFactory(draft=True, district=jianghan))
    stranger = official(guiyang, Membership.Role.PROGRAM_MANAGER)
    with pytest.raises(PermissionDenied):
        program_open(actor=Actor.for_user(stranger), program=program)
    assert not AuditEvent.objects.filter(event_type="program.opened").exists()


def test_moves_from_the_wrong_state_are_refused(jianghan: Any, manager: Any) -> None:
    program = with_schedule(ProgramFactory(draft=True, district=jianghan))
    actor = Actor.for_user(manager)
    with pytest.raises(BusinessError):
        program_pause(actor=actor, program=program)
    with pytest.raises(BusinessError):
        program_resume(actor=actor, program=program)
    program_open(actor=actor, program=program)
    with pytest.raises(BusinessError):
        program_open(actor=actor, program=program)
    program_close(actor=actor, program=program)
    with pytest.raises(BusinessError):
        program_resume(actor=actor, program=program)


def test_the_status_cannot_be_assigned_directly(jianghan: Any) -> None:
    program = ProgramFactory(draft=True, district=jianghan)
    with pytest.raises(AttributeError):
        program.status = Program.Status.OPEN
