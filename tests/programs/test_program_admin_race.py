"""An official edits a program while an approval commits: the budget counters
the approval moved survive the edit (threads against PostgreSQL)."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.forms.models import model_to_dict
from django.urls import reverse

from accounts.models import Membership
from applications.models import Application
from applications.services import application_approve
from audit.models import AuditEvent
from audit.services import Actor
from programs.admin import ProgramForm
from programs.models import Program
from tests.accounts.factories import EnterpriseFactory
from tests.applications.factories import application
from tests.programs.factories import open_program
from tests.vouchers.factories import client_for, official, reauthenticated, with_mfa
from vouchers.models import Voucher

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FORM_FIELDS = [
    "name",
    "name_en",
    "summary",
    "summary_en",
    "obligations",
    "obligations_en",
    "total_budget",
    "per_enterprise_cap",
    "per_charge_cap",
    "four_eyes_threshold",
    "base_rate",
    "application_opens_on",
    "application_closes_on",
    "voucher_validity_days",
    "voucher_valid_until",
    "cross_region",
    "claim_rounding",
    "claim_priority",
    "claim_gpu_npu_only",
    "claim_requires_assessment",
    "agreement_term_months",
    "clawback_rule",
    "clawback_due_days",
]


def change_form_data(program: Program, **changes: Any) -> dict[str, Any]:
    """The program's change form as the official submits it, with ``changes``."""
    values = model_to_dict(program, fields=FORM_FIELDS)
    data: dict[str, Any] = {
        name: "" if value is None else value
        for name, value in values.items()
        if not (
            name in ("cross_region", "claim_gpu_npu_only", "claim_requires_assessment")
            and not value
        )
    }
    data["agreement_targets"] = "[]"
    data.update(changes)
    data.update(
        {
            "phase_steps-TOTAL_FORMS": "0",
            "phase_steps-INITIAL_FORMS": "0",
            "phase_steps-MIN_NUM_FORMS": "0",
            "phase_steps-MAX_NUM_FORMS": "1000",
        }
    )
    return data


def test_an_approval_committed_while_the_program_form_is_saved_is_not_lost(
    jianghan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = open_program(
        district=jianghan, total_budget=Decimal("1000000"), per_enterprise_cap=Decimal("50000")
    )
    manager = with_mfa(official(jianghan, Membership.Role.PROGRAM_MANAGER))
    reviewer = official(jianghan)
    pending = application(
        EnterpriseFactory(division="420103"),
        program,
        status=Application.Status.UNDER_REVIEW,
        amount=Decimal("40000"),
        with_document=False,
    )
    outcome: list[str] = []
    clean = ProgramForm.clean

    def approve() -> None:
        try:
            application_approve(actor=Actor.for_user(reviewer), application=pending)
            outcome.append("approved")
        except Exception as exc:  # a crash must fail the test, not hide
            outcome.append(f"error: {exc!r}")
        finally:
            connection.close()

    def clean_then_approve_elsewhere(form: ProgramForm) -> dict[str, Any]:
        # The change view has read the program and is validating the form:
        # another official's approval commits now, before the save.
        data = clean(form)
        thread = threading.Thread(target=approve)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the approval waited on the edit: it must not, yet"
        return data

    monkeypatch.setattr(ProgramForm, "clean", clean_then_approve_elsewhere)
    client = reauthenticated(client_for(manager), manager)
    response = client.post(
        reverse("admin:programs_program_change", args=[program.pk]),
        change_form_data(program, name="江汉区算力券（二期）", total_budget="1200000"),
    )

    assert outcome == ["approved"]
    assert response.status_code == 302, response.content.decode()[:2000]
    program.refresh_from_db()
    # The official's edit is saved ...
    assert program.name == "江汉区算力券（二期）"
    assert program.total_budget == Decimal("1200000")
    # ... and so is the approval: what it reserved and issued is still counted.
    vouchers = Voucher.objects.filter(program=program)
    assert vouchers.count() == 1
    assert program.issued_amount == vouchers.aggregate(total=Sum("face_value"))["total"]
    assert program.committed_amount == Decimal("40000")
    # The edit's audit event names only what the official changed.
    edit = AuditEvent.objects.get(event_type="admin.change", object_type="vouchers.program")
    assert set(edit.after) == {"name", "total_budget"}
