"""The settlement endpoints of platform-api.md ("Settlements (added in v1.1)"),
driven with the stock signing client (``tests/platforms/conftest.py``): the
list, the lines and the submission, and every refusal the contract names for
them."""

from __future__ import annotations

import base64
import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import ComputePlatform
from audit import events
from audit.models import AuditEvent
from platforms.evidence import evidence_verify
from platforms.models import SignedRequestBody
from programs.models import Program
from settlements.models import Settlement, SettlementLine
from settlements.periods import period_of
from settlements.services import (
    settlement_line_reject,
    settlement_return,
    settlement_start_review,
)
from tests.accounts.factories import ComputePlatformFactory, EnterpriseFactory
from tests.platforms.conftest import SigningKey, error_of, register_key, send, sign
from tests.programs.factories import ProgramFactory, bind
from tests.settlements.factories import (
    SettleWorld,
    actor,
    build,
    charge,
    drawn,
    last_month_instant,
    refund,
)
from tests.vouchers.factories import frozen, issue, platform_actor
from vouchers.models import Redemption, Voucher
from vouchers.services import voucher_redeem

pytestmark = pytest.mark.django_db

SETTLEMENT_FIELDS = {
    "id",
    "program",
    "period",
    "status",
    "lines",
    "covered",
    "reversed",
    "amount_due",
    "invoice_number",
    "submitted_at",
    "approved_amount",
    "paid_amount",
    "paid_at",
    "payment_reference",
}
LINE_FIELDS = {
    "redemption",
    "voucher",
    "reference",
    "occurred_at",
    "covered",
    "reversed",
    "status",
    "rejection_reason",
}


# -- helpers ---------------------------------------------------------------------


@pytest.fixture
def signing_key(db: Any) -> SigningKey:
    """A key of a platform with no settlements."""
    return register_key()


def b64(text: str) -> str:
    """A cursor the server did not hand out, made the way its cursors look."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def api_get(client: Client, signing: SigningKey, path: str, **headers: str) -> Any:
    return send(client, sign("GET", f"/api/v1/{path}", signing.auth(), headers=headers))


def api_post(client: Client, signing: SigningKey, path: str, body: Any, **headers: str) -> Any:
    return send(client, sign("POST", f"/api/v1/{path}", signing.auth(), json=body, headers=headers))


def submit_body(settlement: Settlement, **fields: Any) -> dict[str, Any]:
    return {
        "invoice_number": "INV-2026-001",
        "invoice_amount": str(settlement.amount_due),
        "note": "",
        **fields,
    }


def month_world() -> tuple[SettleWorld, SigningKey]:
    """The settlement world with a signing key of its platform."""
    world = build()
    return world, register_key(world.platform)


def last_month_settlement(world: SettleWorld) -> tuple[Settlement, list[Redemption]]:
    """A draft of last month: two charges (300.00 and 600.00 covered) and a
    refund of 100.00 of the first."""
    at = last_month_instant()
    first = charge(world, billed="1000", reference="inv-1", at=at)
    second = charge(world, billed="2000", reference="inv-2", at=at + datetime.timedelta(hours=1))
    refund(world, first.id, amount="100", reference="ref-1", at=at + datetime.timedelta(hours=2))
    return drawn(world), [first.redemption, second.redemption]


def charged_program(
    world: SettleWorld,
    *,
    platform: ComputePlatform | None = None,
    at: datetime.datetime | None = None,
    reference: str,
    **program_fields: Any,
) -> Program:
    """Another program of the world's district bound to ``platform`` (the
    world's by default) with one 1,000.00 charge recorded at ``at``."""
    platform = platform or world.platform
    at = at or last_month_instant()
    program = ProgramFactory(
        district=world.program.district,
        voucher_validity_days=400,
        base_rate=Decimal("0.30"),
        **program_fields,
    )
    bind(program, platform)
    before = at - datetime.timedelta(days=2)
    with frozen(before):
        voucher = issue(program, EnterpriseFactory(), "10000.00", valid_from=before)
    with time_machine.travel(at, tick=False):
        voucher_redeem(
            actor=platform_actor(platform),
            platform=platform,
            voucher_code=voucher.code,
            reference=reference,
            occurred_at=at,
            billed_amount=Decimal("1000.00"),
        )
    return program


def refused(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = error_of(response)
    assert error["code"] == code, error
    if field is not None:
        assert error["field"] == field, error
    return error


# -- GET settlements ---------------------------------------------------------------


def test_a_draft_is_listed_as_soon_as_its_period_has_ended_without_a_draw_having_run(
    client: Client,
) -> None:
    world, signing = month_world()
    at = last_month_instant()
    first = charge(world, billed="1000", reference="inv-1", at=at)
    charge(world, billed="2000", reference="inv-2", at=at + datetime.timedelta(hours=1))
    refund(world, first.id, amount="100", reference="ref-1", at=at + datetime.timedelta(hours=2))
    # This month's charge belongs to a period that has not ended.
    charge(world, billed="500", reference="inv-now", at=timezone.now())
    assert not Settlement.objects.exists()

    response = api_get(client, signing, "settlements", **{"Accept-Language": "zh-Hans"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"results", "next"}
    assert body["next"] is None
    [listed] = body["results"]
    settlement = Settlement.objects.get()
    program = world.program
    assert listed == {
        "id": settlement.pk,
        "program": {
            "id": program.pk,
            "name": program.name,
            "district": program.district.name,
        },
        "period": period_of(at.date(), "month").label,
        "status": "draft",
        "lines": 3,
        "covered": "900.00",
        "reversed": "100.00",
        "amount_due": "800.00",
        "invoice_number": None,
        "submitted_at": None,
        "approved_amount": None,
        "paid_amount": "0.00",
        "paid_at": None,
        "payment_reference": None,
    }
    # Listing again draws nothing more.
    again = api_get(client, signing, "settlements", **{"Accept-Language": "zh-Hans"})
    assert again.json() == body
    assert Settlement.objects.count() == 1


def test_names_follow_accept_language(client: Client) -> None:
    world, signing = month_world()
    charge(world, billed="1000", reference="inv-1", at=last_month_instant())
    response = api_get(client, signing, "settlements", **{"Accept-Language": "en"})
    [listed] = response.json()["results"]
    assert listed["program"]["name"] == world.program.name_en
    assert listed["program"]["district"] == world.program.district.name_en


def test_a_platform_lists_only_its_own_settlements(client: Client) -> None:
    world, signing = month_world()
    mine, _charges = last_month_settlement(world)
    other = ComputePlatformFactory()
    charged_program(world, platform=other, reference="other-1")
    response = api_get(client, signing, "settlements")
    assert [s["id"] for s in response.json()["results"]] == [mine.pk]
    # The other platform's draft was drawn for it, and it sees only that one.
    other_signing = register_key(other)
    theirs = api_get(client, other_signing, "settlements").json()["results"]
    assert [s["id"] for s in theirs] == list(
        Settlement.objects.filter(platform=other).values_list("pk", flat=True)
    )
    assert mine.pk not in {s["id"] for s in theirs}


def test_the_list_is_filtered_by_period_and_status(client: Client) -> None:
    world, signing = month_world()
    monthly, _charges = last_month_settlement(world)
    today = timezone.localdate()
    this_quarter = period_of(today, "quarter")
    last_quarter = period_of(this_quarter.first_day - datetime.timedelta(days=1), "quarter")
    in_last_quarter = datetime.datetime.combine(
        last_quarter.first_day + datetime.timedelta(days=10),
        datetime.time(10),
        tzinfo=timezone.get_default_timezone(),
    )
    quarterly_program = charged_program(
        world,
        at=in_last_quarter,
        reference="q-1",
        settlement_period=Program.SettlementPeriod.QUARTER,
    )
    month = monthly.period
    response = api_get(client, signing, f"settlements?period={month}")
    assert [s["id"] for s in response.json()["results"]] == [monthly.pk]
    quarterly = Settlement.objects.get(program=quarterly_program)
    assert quarterly.period == last_quarter.label
    response = api_get(client, signing, f"settlements?period={last_quarter.label}")
    assert [s["id"] for s in response.json()["results"]] == [quarterly.pk]
    response = api_get(client, signing, "settlements?period=2001-01")
    assert response.json() == {"results": [], "next": None}

    submitted = api_post(client, signing, f"settlements/{monthly.pk}/submit", submit_body(monthly))
    assert submitted.status_code == 200, submitted.content
    response = api_get(client, signing, "settlements?status=submitted")
    assert [s["id"] for s in response.json()["results"]] == [monthly.pk]
    response = api_get(client, signing, "settlements?status=draft")
    assert [s["id"] for s in response.json()["results"]] == [quarterly.pk]
    response = api_get(client, signing, f"settlements?status=draft&period={month}")
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=2026-13", "period"),
        ("period=2026-Q5", "period"),
        ("period=2026-5", "period"),
        ("period=0000-01", "period"),
        ("period=9999-12", "period"),
        ("period=%D9%A2%D9%A0%D9%A2%D9%A6-05", "period"),  # Arabic-Indic digits
        ("period=2026-05%0A", "period"),
        ("status=open", "status"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=" + b64("s|" + "9" * 30), "cursor"),  # past the largest id
        ("cursor=" + b64("s|-1"), "cursor"),
        ("cursor=" + b64("2026-01-01T00:00:00+00:00|1"), "cursor"),  # a lines cursor
        ("limit=0", "limit"),
        ("limit=many", "limit"),
    ],
)
def test_a_bad_query_is_a_validation_error_naming_its_field(
    client: Client, signing_key: SigningKey, query: str, field: str
) -> None:
    response = api_get(client, signing_key, f"settlements?{query}")
    refused(response, 400, "validation_error", field)


def test_refusals_speak_the_requested_language(client: Client, signing_key: SigningKey) -> None:
    path = "settlements?cursor=" + b64("s|x")
    chinese = api_get(client, signing_key, path, **{"Accept-Language": "zh-Hans"})
    english = api_get(client, signing_key, path, **{"Accept-Language": "en"})
    assert (
        refused(chinese, 400, "validation_error", "cursor")["message"]
        == "此游标不是服务器返回的游标。"
    )
    assert refused(english, 400, "validation_error", "cursor")["message"] == (
        "This cursor is not one the server returned."
    )


def test_the_list_pages_with_an_opaque_cursor_and_a_constant_number_of_queries(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    world, signing = month_world()
    last_month_settlement(world)
    for n in range(4):
        charged_program(world, reference=f"more-{n}")
    api_get(client, signing, "settlements")  # draws them
    expected = list(
        Settlement.objects.filter(platform=world.platform)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    assert len(expected) == 5

    seen: list[int] = []
    path = "settlements?limit=2"
    pages = 0
    while True:
        # The key and the nonce, the draw's two look-ups (nothing to draw) and
        # one page with programs and districts: however many settlements.
        with django_assert_max_num_queries(5):
            response = api_get(client, signing, path)
        assert response.status_code == 200, response.content
        body = response.json()
        pages += 1
        assert len(body["results"]) <= 2
        seen += [s["id"] for s in body["results"]]
        if body["next"] is None:
            break
        path = f"settlements?limit=2&cursor={body['next']}"
    assert seen == expected
    assert pages == 3

    with django_assert_max_num_queries(5):
        response = api_get(client, signing, "settlements")
    assert len(response.json()["results"]) == 5


# -- GET settlements/{id}/lines ----------------------------------------------------------


def test_the_lines_show_included_and_rejected_lines_with_the_reason(client: Client) -> None:
    world, signing = month_world()
    settlement, (first, second) = last_month_settlement(world)
    submitted = api_post(
        client, signing, f"settlements/{settlement.pk}/submit", submit_body(settlement)
    )
    assert submitted.status_code == 200, submitted.content
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    line = SettlementLine.objects.get(settlement=settlement, redemption=second, kind="capture")
    settlement_line_reject(actor=actor(world.reviewer), line=line, reason="No such job")

    response = api_get(client, signing, f"settlements/{settlement.pk}/lines")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"results", "next"}
    assert body["next"] is None
    assert all(set(line) == LINE_FIELDS for line in body["results"])
    occurred = timezone.localtime(first.occurred_at).isoformat()
    assert body["results"] == [
        {
            "redemption": first.pk,
            "voucher": world.voucher.code,
            "reference": "inv-1",
            "occurred_at": occurred,
            "covered": "300.00",
            "reversed": "0.00",
            "status": "included",
            "rejection_reason": None,
        },
        {
            "redemption": second.pk,
            "voucher": world.voucher.code,
            "reference": "inv-2",
            "occurred_at": timezone.localtime(second.occurred_at).isoformat(),
            "covered": "600.00",
            "reversed": "0.00",
            "status": "rejected",
            "rejection_reason": "No such job",
        },
        {
            "redemption": first.pk,
            "voucher": world.voucher.code,
            "reference": "ref-1",
            "occurred_at": occurred,
            "covered": "0.00",
            "reversed": "100.00",
            "status": "included",
            "rejection_reason": None,
        },
    ]
    listed = api_get(client, signing, "settlements").json()["results"][0]
    assert listed["status"] == "under_review"
    assert listed["amount_due"] == "200.00"
    assert listed["lines"] == 3


def test_the_lines_page_in_recorded_order_with_a_constant_number_of_queries(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    world, signing = month_world()
    at = last_month_instant()
    for n in range(5):
        charge(world, billed="100", reference=f"inv-{n}", at=at + datetime.timedelta(minutes=n))
    settlement = drawn(world)
    expected = [f"inv-{n}" for n in range(5)]

    seen: list[str] = []
    path = f"settlements/{settlement.pk}/lines?limit=2"
    while True:
        # The key and the nonce, the settlement, and one page of lines with
        # their vouchers.
        with django_assert_max_num_queries(4):
            response = api_get(client, signing, path)
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [line["reference"] for line in body["results"]]
        if body["next"] is None:
            break
        path = f"settlements/{settlement.pk}/lines?limit=2&cursor={body['next']}"
    assert seen == expected
    with django_assert_max_num_queries(4):
        response = api_get(client, signing, f"settlements/{settlement.pk}/lines")
    assert len(response.json()["results"]) == 5


def test_another_platforms_settlement_or_a_bad_id_has_no_lines(client: Client) -> None:
    world, signing = month_world()
    settlement, _charges = last_month_settlement(world)
    stranger = register_key()
    refused(
        api_get(client, stranger, f"settlements/{settlement.pk}/lines"),
        404,
        "settlement_not_found",
        "settlement",
    )
    for bad in ("999999999", "abc", "1.5", "-1", "0", "%C2%B9", "9" * 30):
        refused(
            api_get(client, signing, f"settlements/{bad}/lines"),
            404,
            "settlement_not_found",
            "settlement",
        )
    refused(
        api_get(client, signing, f"settlements/{settlement.pk}/lines?cursor={b64('s|1')}"),
        400,
        "validation_error",
        "cursor",
    )


# -- POST settlements/{id}/submit ---------------------------------------------------------


def test_submitting_keeps_the_signed_request_as_the_platforms_attestation(
    client: Client,
) -> None:
    world, signing = month_world()
    settlement, _charges = last_month_settlement(world)
    body = submit_body(settlement, note="Our invoice for last month")

    response = api_post(client, signing, f"settlements/{settlement.pk}/submit", body)

    assert response.status_code == 200, response.content
    answer = response.json()
    assert set(answer) == SETTLEMENT_FIELDS
    assert answer["id"] == settlement.pk
    assert answer["status"] == "submitted"
    assert answer["invoice_number"] == "INV-2026-001"
    assert answer["amount_due"] == "800.00"
    assert answer["submitted_at"] is not None
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.SUBMITTED
    assert settlement.invoice_amount == Decimal("800.00")
    assert settlement.submission_note == "Our invoice for last month"
    assert settlement.submitted_by == signing.key_id
    evidence = settlement.submission_evidence
    assert evidence["key_id"] == signing.key_id
    assert evidence["method"] == "POST"
    assert evidence["target_uri"].endswith(f"/api/v1/settlements/{settlement.pk}/submit")
    # The platform's own signature over exactly this body, checkable later
    # with its public key alone.
    signed = SignedRequestBody.objects.get(sha256=evidence["body_sha256"])
    assert json.loads(bytes(signed.body)) == body
    evidence_verify(evidence, public_key_pem=signing.key.public_key_pem, body=bytes(signed.body))
    event = AuditEvent.objects.get(event_type=events.SETTLEMENT_SUBMITTED)
    assert event.actor_label == signing.key_id
    assert event.evidence is not None
    assert event.evidence["signature"] == evidence["signature"]


def test_a_returned_settlement_can_be_resubmitted(client: Client) -> None:
    world, signing = month_world()
    settlement, _charges = last_month_settlement(world)
    path = f"settlements/{settlement.pk}/submit"
    assert api_post(client, signing, path, submit_body(settlement)).status_code == 200
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    settlement_return(
        actor=actor(world.reviewer), settlement=settlement, reason="The invoice is unreadable"
    )
    listed = api_get(client, signing, "settlements?status=returned").json()["results"]
    assert [s["id"] for s in listed] == [settlement.pk]

    again = api_post(client, signing, path, submit_body(settlement, invoice_number="INV-2026-001b"))

    assert again.status_code == 200, again.content
    assert again.json()["status"] == "submitted"
    assert again.json()["invoice_number"] == "INV-2026-001b"
    settlement.refresh_from_db()
    assert settlement.invoice_number == "INV-2026-001b"
    assert AuditEvent.objects.filter(event_type=events.SETTLEMENT_SUBMITTED).count() == 2


def test_a_settlement_that_is_not_open_is_not_submitted_again(client: Client) -> None:
    world, signing = month_world()
    settlement, _charges = last_month_settlement(world)
    path = f"settlements/{settlement.pk}/submit"
    assert api_post(client, signing, path, submit_body(settlement)).status_code == 200
    response = api_post(client, signing, path, submit_body(settlement, invoice_number="INV-2"))
    refused(response, 409, "settlement_not_open")
    settlement.refresh_from_db()
    assert settlement.invoice_number == "INV-2026-001"


def test_an_invoice_for_another_amount_is_refused(client: Client) -> None:
    world, signing = month_world()
    settlement, _charges = last_month_settlement(world)
    response = api_post(
        client,
        signing,
        f"settlements/{settlement.pk}/submit",
        submit_body(settlement, invoice_amount="900.00"),
    )
    refused(response, 409, "settlement_amount_mismatch", "invoice_amount")
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.DRAFT
    assert settlement.submission_evidence is None
    assert not SignedRequestBody.objects.exists()


def test_an_unknown_foreign_or_malformed_settlement_is_not_found(client: Client) -> None:
    world, signing = month_world()
    settlement, _charges = last_month_settlement(world)
    stranger = register_key()
    body = submit_body(settlement)
    refused(
        api_post(client, stranger, f"settlements/{settlement.pk}/submit", body),
        404,
        "settlement_not_found",
        "settlement",
    )
    for bad in ("999999999", "abc", "1e3", "%C2%B9", "9" * 30):
        refused(
            api_post(client, signing, f"settlements/{bad}/submit", body),
            404,
            "settlement_not_found",
            "settlement",
        )
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.DRAFT


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"invoice_amount": 800.0}, "invoice_amount"),
        ({"invoice_amount": 800}, "invoice_amount"),
        ({"invoice_amount": "8e2"}, "invoice_amount"),
        ({"invoice_amount": "800.001"}, "invoice_amount"),
        ({"invoice_amount": None}, "invoice_amount"),
        ({"invoice_number": ""}, "invoice_number"),
        ({"invoice_number": 12}, "invoice_number"),
        ({"invoice_number": "x" * 101}, "invoice_number"),
        ({"invoice_number": "INV\udc00"}, "invoice_number"),
        ({"note": "x" * 2001}, "note"),
        ({"note": None}, "note"),
    ],
)
def test_a_malformed_submission_is_a_validation_error(
    client: Client, change: dict[str, Any], field: str
) -> None:
    world, signing = month_world()
    settlement, _charges = last_month_settlement(world)
    body = submit_body(settlement, **change)
    response = api_post(client, signing, f"settlements/{settlement.pk}/submit", body)
    refused(response, 400, "validation_error", field)
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.DRAFT


def test_a_submission_without_an_invoice_number_is_a_validation_error(client: Client) -> None:
    world, signing = month_world()
    settlement, _charges = last_month_settlement(world)
    body = submit_body(settlement)
    del body["invoice_number"]
    response = api_post(client, signing, f"settlements/{settlement.pk}/submit", body)
    refused(response, 400, "validation_error", "invoice_number")


def test_a_settlement_whose_refunds_outweigh_its_charges_is_submitted_for_a_negative_amount(
    client: Client,
) -> None:
    world, signing = month_world()
    # A charge of the month before last, refunded in part last month.
    earlier = last_month_instant() - datetime.timedelta(days=20)
    program = charged_program(world, at=earlier, reference="inv-early")
    first = Redemption.objects.get(reference="inv-early")
    refund(world, first.pk, amount="250", reference="ref-late", at=last_month_instant())
    api_get(client, signing, "settlements")
    settlement = Settlement.objects.get(
        program=program, period=period_of(last_month_instant().date(), "month").label
    )
    assert settlement.amount_due == Decimal("-250.00")
    response = api_post(
        client,
        signing,
        f"settlements/{settlement.pk}/submit",
        submit_body(settlement, invoice_amount="-250.00"),
    )
    assert response.status_code == 200, response.content
    assert response.json()["amount_due"] == "-250.00"


def test_the_same_idempotency_key_replays_the_answer_and_refuses_another_body(
    client: Client,
) -> None:
    world, signing = month_world()
    settlement, _charges = last_month_settlement(world)
    path = f"settlements/{settlement.pk}/submit"
    key = {"Idempotency-Key": "submit-2026-11"}
    first = api_post(client, signing, path, submit_body(settlement), **key)
    assert first.status_code == 200, first.content
    again = api_post(client, signing, path, submit_body(settlement), **key)
    assert again.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    other = api_post(client, signing, path, submit_body(settlement, note="changed"), **key)
    refused(other, 409, "idempotency_key_reused", "Idempotency-Key")
    assert AuditEvent.objects.filter(event_type=events.SETTLEMENT_SUBMITTED).count() == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "settlements"),
        ("GET", "settlements/{pk}/lines"),
        ("POST", "settlements/{pk}/submit"),
    ],
)
def test_unsigned_requests_are_refused(client: Client, method: str, path: str) -> None:
    world, _signing = month_world()
    settlement, _charges = last_month_settlement(world)
    prepared = sign(
        method,
        "/api/v1/" + path.format(pk=settlement.pk),
        None,
        json=submit_body(settlement) if method == "POST" else None,
    )
    refused(send(client, prepared), 401, "signature_missing")
    # A signed-in operator's session is no credential either.
    client.force_login(world.operator)
    refused(send(client, prepared), 401, "signature_missing")
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.DRAFT


def test_a_points_settlement_shows_whole_points(client: Client) -> None:
    world, signing = month_world()
    program = ProgramFactory(
        district=world.program.district,
        unit=Program.Unit.POINTS,
        kind=Program.Kind.TOKEN,
        voucher_validity_days=400,
    )
    bind(program, world.platform)
    at = last_month_instant()
    before = at - datetime.timedelta(days=2)
    with frozen(before):
        voucher = issue(program, EnterpriseFactory(), "400000", valid_from=before)
    with time_machine.travel(at, tick=False):
        voucher_redeem(
            actor=platform_actor(world.platform),
            platform=world.platform,
            voucher_code=voucher.code,
            reference="job-1",
            occurred_at=at,
            points_used=1500,
            usage=[{"model": "glm-5", "input_tokens": 1000, "output_tokens": 100}],
        )
    listed = api_get(client, signing, "settlements").json()["results"]
    [points] = [s for s in listed if s["program"]["id"] == program.pk]
    assert points["covered"] == "1500"
    assert points["amount_due"] == "1500"
    assert points["paid_amount"] == "0"
    response = api_post(
        client,
        signing,
        f"settlements/{points['id']}/submit",
        {"invoice_number": "INV-P-1", "invoice_amount": "1500"},
    )
    assert response.status_code == 200, response.content
    lines = api_get(client, signing, f"settlements/{points['id']}/lines").json()["results"]
    assert [(line["voucher"], line["covered"]) for line in lines] == [
        (Voucher.objects.get(pk=voucher.pk).code, "1500")
    ]
