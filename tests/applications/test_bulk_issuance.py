"""Bulk issuance by CSV goes through what applications go through: the
program's rule set (explained per row in the preview), registration in the
district, verified enterprises, caps and budget, separation of duties — and
above the four-eyes threshold the batch waits for a second, different
official before any voucher is issued."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Enterprise, Membership
from applications.models import Application, BulkIssuance
from applications.services import application_approve
from audit import events
from audit.models import AuditEvent
from audit.services import Actor
from programs.models import Program
from tests.accounts.factories import EnterpriseFactory
from tests.applications.factories import application
from tests.eligibility.factories import rule_set
from tests.vouchers.factories import client_for, official, with_mfa
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db

BULK = "admin:vouchers_voucher_bulk_issue"
RULE = {
    "all": [
        {
            "any": [
                {"fact": "prior_year_revenue", "op": "gte", "value": "5000000"},
                {"fact": "headcount", "op": "gte", "value": "20"},
            ]
        },
    ]
}


def _manager(district: Any) -> Any:
    return with_mfa(official(district, Membership.Role.PROGRAM_MANAGER))


def _batch_url(batch: BulkIssuance, decide: bool = False) -> str:
    name = (
        "admin:applications_bulkissuance_decide"
        if decide
        else "admin:applications_bulkissuance_change"
    )
    return reverse(name, args=[batch.pk])


def test_a_row_that_fails_the_rules_locality_or_verification_is_refused_and_explained(
    program: Program, jianghan: Any
) -> None:
    program.rule_set = rule_set(jianghan, RULE, "Jianghan rule")
    program.save()
    outside_and_small = EnterpriseFactory(
        division="520100", headcount=1, prior_year_revenue=Decimal("0")
    )
    pending = EnterpriseFactory(division="420103", status=Enterprise.Status.PENDING)
    good = EnterpriseFactory(division="420103")
    client = client_for(_manager(jianghan))
    text = f"{outside_and_small.uscc},10000\n{pending.uscc},10000\n{good.uscc},10000\n"
    preview = client.post(
        reverse(BULK), {"program": program.pk, "csv_text": text, "validate_only": "on"}
    )
    body = preview.content.decode()
    errors = {row.uscc: " ".join(row.errors) for row in preview.context["report"].rows}
    assert "outside" in errors[outside_and_small.uscc]
    assert "does not meet this program's conditions" in errors[outside_and_small.uscc]
    assert "verified" in errors[pending.uscc]
    assert errors[good.uscc] == ""
    # The preview explains each row's decision, condition by condition.
    assert "found 1 person," in body
    response = client.post(reverse(BULK), {"program": program.pk, "csv_text": text})
    assert "Nothing was issued" in response.content.decode()
    assert not Voucher.objects.exists()


def test_a_row_over_the_enterprises_cap_counts_what_it_got_by_application_too(
    program: Program, enterprise: Any, jianghan: Any, reviewer: Any
) -> None:
    # The cap is 300,000; an application of 200,000 was approved.
    app = application(
        enterprise, program, status=Application.Status.UNDER_REVIEW, amount=Decimal("200000")
    )
    application_approve(actor=Actor.for_user(reviewer), application=app)
    response = client_for(_manager(jianghan)).post(
        reverse(BULK), {"program": program.pk, "csv_text": f"{enterprise.uscc},150000\n"}
    )
    assert "would pass the cap of 300,000.00" in response.content.decode()
    assert Voucher.objects.count() == 1


def test_above_the_threshold_the_batch_waits_for_a_second_official(
    program: Program, enterprise: Any, jianghan: Any
) -> None:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("250000"))
    uploader, second = _manager(jianghan), _manager(jianghan)
    first_client = client_for(uploader)
    response = first_client.post(
        reverse(BULK), {"program": program.pk, "csv_text": f"{enterprise.uscc},300000\n"}
    )
    assert "second official" in response.content.decode()
    assert not Voucher.objects.exists()
    batch = BulkIssuance.objects.get()
    assert batch.status == BulkIssuance.Status.AWAITING_SECOND_APPROVAL
    assert batch.created_by == uploader
    assert AuditEvent.objects.filter(event_type=events.BULK_ISSUANCE_PROPOSED).count() == 1

    # The uploader is not offered the confirmation and cannot force it.
    page = first_client.get(_batch_url(batch)).content.decode()
    assert 'value="confirm"' not in page
    assert "A second, different official must confirm this batch" in page
    first_client.post(_batch_url(batch, decide=True), {"decision": "confirm", "note": ""})
    batch.refresh_from_db()
    assert batch.status == BulkIssuance.Status.AWAITING_SECOND_APPROVAL
    assert not Voucher.objects.exists()

    # A second program manager confirms: now the voucher is issued.
    second_client = client_for(second)
    assert 'value="confirm"' in second_client.get(_batch_url(batch)).content.decode()
    second_client.post(_batch_url(batch, decide=True), {"decision": "confirm", "note": "Checked."})
    batch.refresh_from_db()
    assert batch.status == BulkIssuance.Status.ISSUED
    assert batch.decided_by == second
    voucher = Voucher.objects.get()
    assert (voucher.enterprise, voucher.face_value) == (enterprise, Decimal("300000"))
    assert AuditEvent.objects.filter(event_type=events.BULK_ISSUANCE_CONFIRMED).count() == 1
    assert AuditEvent.objects.filter(event_type=events.VOUCHERS_BULK_ISSUED).count() == 1


def test_at_or_below_the_threshold_one_official_issues_at_once(
    program: Program, enterprise: Any, jianghan: Any
) -> None:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("250000"))
    client_for(_manager(jianghan)).post(
        reverse(BULK), {"program": program.pk, "csv_text": f"{enterprise.uscc},250000\n"}
    )
    assert Voucher.objects.get().face_value == Decimal("250000")
    assert BulkIssuance.objects.get().status == BulkIssuance.Status.ISSUED


def test_a_cancelled_batch_issues_nothing(program: Program, enterprise: Any, jianghan: Any) -> None:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("250000"))
    client = client_for(_manager(jianghan))
    client.post(reverse(BULK), {"program": program.pk, "csv_text": f"{enterprise.uscc},300000\n"})
    batch = BulkIssuance.objects.get()
    client.post(_batch_url(batch, decide=True), {"decision": "cancel", "note": ""})
    batch.refresh_from_db()
    assert batch.status == BulkIssuance.Status.AWAITING_SECOND_APPROVAL  # a reason is needed
    client.post(_batch_url(batch, decide=True), {"decision": "cancel", "note": "Wrong file."})
    batch.refresh_from_db()
    assert batch.status == BulkIssuance.Status.CANCELLED
    client_for(_manager(jianghan)).post(
        _batch_url(batch, decide=True), {"decision": "confirm", "note": ""}
    )
    assert not Voucher.objects.exists()


@pytest.mark.parametrize("role", [Membership.Role.REVIEWER, Membership.Role.AUDITOR])
def test_reviewers_and_auditors_cannot_confirm_a_batch(
    program: Program, enterprise: Any, jianghan: Any, role: str
) -> None:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("250000"))
    client_for(_manager(jianghan)).post(
        reverse(BULK), {"program": program.pk, "csv_text": f"{enterprise.uscc},300000\n"}
    )
    batch = BulkIssuance.objects.get()
    client = client_for(with_mfa(official(jianghan, role)))
    assert 'value="confirm"' not in client.get(_batch_url(batch)).content.decode()
    client.post(_batch_url(batch, decide=True), {"decision": "confirm", "note": ""})
    batch.refresh_from_db()
    assert batch.status == BulkIssuance.Status.AWAITING_SECOND_APPROVAL
    assert not Voucher.objects.exists()


def test_another_districts_manager_cannot_see_or_confirm_a_batch(
    program: Program, enterprise: Any, jianghan: Any, guiyang: Any
) -> None:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("250000"))
    client_for(_manager(jianghan)).post(
        reverse(BULK), {"program": program.pk, "csv_text": f"{enterprise.uscc},300000\n"}
    )
    batch = BulkIssuance.objects.get()
    client = client_for(_manager(guiyang))
    assert client.get(_batch_url(batch)).status_code in (302, 404)
    response = client.post(_batch_url(batch, decide=True), {"decision": "confirm", "note": ""})
    assert response.status_code == 404
    assert not Voucher.objects.exists()


def test_a_batch_that_no_longer_passes_its_checks_is_not_issued_on_confirmation(
    program: Program, enterprise: Any, jianghan: Any
) -> None:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("250000"))
    client_for(_manager(jianghan)).post(
        reverse(BULK), {"program": program.pk, "csv_text": f"{enterprise.uscc},300000\n"}
    )
    batch = BulkIssuance.objects.get()
    Enterprise.objects.filter(pk=enterprise.pk).update(status=Enterprise.Status.SUSPENDED)
    response = client_for(_manager(jianghan)).post(
        _batch_url(batch, decide=True), {"decision": "confirm", "note": ""}, follow=True
    )
    assert "no longer passes its checks" in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == BulkIssuance.Status.AWAITING_SECOND_APPROVAL
    assert not Voucher.objects.exists()


def test_splitting_a_grant_over_two_files_still_needs_a_second_official(
    program: Program, enterprise: Any, jianghan: Any
) -> None:
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("250000"))
    client = client_for(_manager(jianghan))
    client.post(reverse(BULK), {"program": program.pk, "csv_text": f"{enterprise.uscc},200000\n"})
    assert Voucher.objects.count() == 1
    client.post(reverse(BULK), {"program": program.pk, "csv_text": f"{enterprise.uscc},100000\n"})
    assert Voucher.objects.count() == 1
    assert BulkIssuance.objects.filter(status=BulkIssuance.Status.AWAITING_SECOND_APPROVAL).exists()
