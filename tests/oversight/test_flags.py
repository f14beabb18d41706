"""oversight.flags: detection stores flags once; officials confirm or dismiss them."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from accounts.models import Membership
from audit.models import AuditEvent
from audit.services import Actor
from common.errors import BusinessError
from oversight.flags import (
    ANOMALY_CONFIRMED,
    ANOMALY_DISMISSED,
    ANOMALY_FLAGGED,
    anomalies_detect,
    flag_actions_for,
    flag_confirm,
    flag_dismiss,
)
from oversight.models import AnomalyFlag
from oversight.tasks import audit_detect_anomalies
from tests.oversight.detector_helpers import at, charge, normal_month, setup, today
from tests.vouchers.factories import official
from vouchers.models import LedgerEntry, Receivable, Voucher

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")
YESTERDAY = today() - datetime.timedelta(days=1)


def spiked() -> Voucher:
    """A voucher with a normal month and one spike three days ago."""
    voucher, platform = setup()
    normal_month(voucher, platform)
    charge(voucher, platform, at(3, hour=11), billed="15000.00")
    return voucher


def spike_flag(voucher: Voucher) -> AnomalyFlag:
    anomalies_detect(day=YESTERDAY, days=30, actor=SYSTEM)
    return AnomalyFlag.objects.get(detector=AnomalyFlag.Detector.USAGE_SPIKE, voucher=voucher)


# --- detection ----------------------------------------------------------------------


def test_detection_stores_the_flag_with_its_evidence_and_audits_it() -> None:
    voucher = spiked()
    report = anomalies_detect(day=YESTERDAY, days=30, actor=SYSTEM)
    [flag] = [f for f in report.created if f.detector == AnomalyFlag.Detector.USAGE_SPIKE]
    assert flag.status == AnomalyFlag.Status.OPEN
    assert flag.district_id == voucher.program.district_id
    assert flag.period_end == YESTERDAY
    assert flag.evidence["redemption_ids"]
    event = AuditEvent.objects.get(event_type=ANOMALY_FLAGGED, object_id=str(flag.pk))
    assert event.district_id == flag.district_id
    assert event.actor_label == "tests"


def test_running_detection_again_creates_no_flag_and_no_event() -> None:
    spiked()
    first = anomalies_detect(day=YESTERDAY, days=30, actor=SYSTEM)
    assert first.created
    flags, events = AnomalyFlag.objects.count(), AuditEvent.objects.count()
    again = anomalies_detect(day=YESTERDAY, days=30, actor=SYSTEM)
    assert again.created == []
    assert again.already_flagged == len(first.created)
    # Nor does the next daily run, whose window overlaps the one flagged.
    assert anomalies_detect(day=YESTERDAY, days=1, actor=SYSTEM).created == []
    assert (AnomalyFlag.objects.count(), AuditEvent.objects.count()) == (flags, events)


def test_a_normal_month_gives_no_flags() -> None:
    voucher, platform = setup()
    normal_month(voucher, platform)
    assert anomalies_detect(day=YESTERDAY, days=30, actor=SYSTEM).created == []


def test_the_daily_task_and_the_command_run_the_same_service() -> None:
    spiked()
    ids = audit_detect_anomalies(day=YESTERDAY.isoformat(), days=30)
    assert set(ids) == set(AnomalyFlag.objects.values_list("pk", flat=True))
    assert audit_detect_anomalies(day=YESTERDAY.isoformat(), days=30) == []
    out = io.StringIO()
    call_command("detect_anomalies", "--date", YESTERDAY.isoformat(), "--days", "30", stdout=out)
    assert "0 new flag(s)" in out.getvalue()


def test_the_command_prints_each_new_flag() -> None:
    spiked()
    out = io.StringIO()
    call_command("detect_anomalies", "--date", YESTERDAY.isoformat(), "--days", "30", stdout=out)
    text = out.getvalue()
    assert "1 new flag(s)" in text
    assert "usage_spike" in text


# --- deciding ---------------------------------------------------------------------------


def test_a_program_manager_confirms_and_suspends_the_voucher() -> None:
    voucher = spiked()
    flag = spike_flag(voucher)
    manager = official(voucher.program.district, Membership.Role.PROGRAM_MANAGER)
    actor = Actor.for_user(manager)
    assert flag_actions_for(flag=flag, user=manager) == ["none", "suspend", "clawback"]
    flag = flag_confirm(actor=actor, flag=flag, note="Invoices do not match", action="suspend")
    assert flag.status == AnomalyFlag.Status.CONFIRMED
    assert flag.action_taken == AnomalyFlag.Action.SUSPEND
    assert flag.decided_by == manager
    assert flag.decided_at is not None
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.SUSPENDED
    assert f"#{flag.pk}" in voucher.status_reason
    assert AuditEvent.objects.filter(event_type=ANOMALY_CONFIRMED, object_id=str(flag.pk)).exists()
    assert AuditEvent.objects.filter(event_type="voucher.suspended").exists()


def test_a_confirmation_can_start_a_clawback() -> None:
    voucher = spiked()
    flag = spike_flag(voucher)
    manager = official(voucher.program.district, Membership.Role.PROGRAM_MANAGER)
    flag_confirm(actor=Actor.for_user(manager), flag=flag, note="Fabricated", action="clawback")
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.CLAWED_BACK
    assert Receivable.objects.filter(voucher=voucher).exists()
    assert voucher.ledger.filter(kind=LedgerEntry.Kind.CLAWBACK).exists()


def test_a_reviewer_may_confirm_or_dismiss_but_not_act_on_the_voucher() -> None:
    voucher = spiked()
    flag = spike_flag(voucher)
    reviewer = official(voucher.program.district, Membership.Role.REVIEWER)
    assert flag_actions_for(flag=flag, user=reviewer) == ["none"]
    with pytest.raises(PermissionDenied):
        flag_confirm(actor=Actor.for_user(reviewer), flag=flag, note="x", action="suspend")
    flag.refresh_from_db()
    assert flag.status == AnomalyFlag.Status.OPEN  # the refused suspension rolled it back
    flag_dismiss(actor=Actor.for_user(reviewer), flag=flag, note="A product launch, explained")
    flag.refresh_from_db()
    assert flag.status == AnomalyFlag.Status.DISMISSED
    assert flag.decision_note == "A product launch, explained"
    assert AuditEvent.objects.filter(event_type=ANOMALY_DISMISSED).count() == 1


@pytest.mark.parametrize("role", [Membership.Role.AUDITOR, None])
def test_auditors_and_other_districts_officials_cannot_decide(role) -> None:
    voucher = spiked()
    flag = spike_flag(voucher)
    if role is None:
        from tests.accounts.factories import DistrictFactory

        user = official(DistrictFactory(code="520100"), Membership.Role.PROGRAM_MANAGER)
    else:
        user = official(voucher.program.district, role)
    with pytest.raises(PermissionDenied):
        flag_dismiss(actor=Actor.for_user(user), flag=flag, note="no")
    with pytest.raises(PermissionDenied):
        flag_confirm(actor=Actor.for_user(user), flag=flag, note="no")
    flag.refresh_from_db()
    assert flag.status == AnomalyFlag.Status.OPEN


def test_a_decision_needs_a_note_and_an_open_flag() -> None:
    voucher = spiked()
    flag = spike_flag(voucher)
    manager = official(voucher.program.district, Membership.Role.PROGRAM_MANAGER)
    actor = Actor.for_user(manager)
    with pytest.raises(BusinessError) as excinfo:
        flag_dismiss(actor=actor, flag=flag, note="   ")
    assert excinfo.value.field == "note"
    flag_dismiss(actor=actor, flag=flag, note="Checked the invoices")
    with pytest.raises(BusinessError):
        flag_confirm(actor=actor, flag=flag, note="Changed my mind")
    flag.refresh_from_db()
    assert flag.status == AnomalyFlag.Status.DISMISSED


def test_the_status_cannot_be_set_directly() -> None:
    voucher = spiked()
    flag = spike_flag(voucher)
    with pytest.raises(AttributeError):
        flag.status = AnomalyFlag.Status.CONFIRMED
