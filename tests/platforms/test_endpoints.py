"""The redemption endpoints of platform-api.md, driven with the stock signing client.

Every request is prepared by ``requests`` and signed by the stock
``requests-http-signature`` auth exactly as a platform would; the Django test
client delivers the same bytes (see ``conftest.py``).
"""

from __future__ import annotations

import datetime
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ComputePlatform, Membership
from audit import events
from audit.models import AuditEvent
from audit.services import Actor
from platforms.evidence import evidence_verify
from platforms.models import SignedRequestBody
from programs.models import Program
from tests.platforms.conftest import (
    SigningKey,
    error_of,
    independent_sign,
    register_key,
    send,
    sign,
)
from tests.platforms.factories import glm5_catalog_entry, new_key_pair
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue, official
from vouchers.codes import generate_code
from vouchers.ledger import ledger_differences
from vouchers.models import LedgerEntry, Redemption, Voucher
from vouchers.services import voucher_revoke, voucher_suspend

pytestmark = pytest.mark.django_db


@pytest.fixture
def program(signing_key: SigningKey) -> Program:
    program = ProgramFactory(per_charge_cap=Decimal("500.00"))
    bind(program, signing_key.platform)
    return program


@pytest.fixture
def voucher(program: Program) -> Voucher:
    return issue(program, amount="1000.00")


@pytest.fixture
def points_program(signing_key: SigningKey) -> Program:
    program = ProgramFactory(unit=Program.Unit.POINTS, kind=Program.Kind.TOKEN)
    bind(program, signing_key.platform)
    glm5_catalog_entry(signing_key.platform, timezone.now() - datetime.timedelta(days=30))
    return program


def now_iso() -> str:
    return timezone.localtime(timezone.now()).isoformat()


def charge(target: Voucher, /, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "voucher": target.code,
        "reference": "inv-000123",
        "occurred_at": now_iso(),
        "billed_amount": "120.00",
        "currency": "CNY",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def post(client: Any, signing: SigningKey, path: str, body: Any, **headers: str) -> Any:
    return send(client, sign("POST", f"/api/v1/{path}", signing.auth(), json=body, headers=headers))


def get(client: Any, signing: SigningKey, path: str) -> Any:
    return send(client, sign("GET", f"/api/v1/{path}", signing.auth()))


def refused(response: Any, status: int, code: str, field: str | None = "unset") -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = error_of(response)
    assert error["code"] == code, error
    if field != "unset":
        assert error["field"] == field, error
    return error


# -- GET vouchers/{code} ------------------------------------------------------


def test_a_bound_platform_looks_up_a_voucher(client, signing_key, voucher) -> None:
    response = get(client, signing_key, f"vouchers/{voucher.code}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["code"] == voucher.code
    assert body["status"] == "active"
    assert body["unit"] == "CNY"
    assert (body["balance"], body["held"], body["face_value"]) == ("1000.00", "0.00", "1000.00")
    assert body["rate_in_force"] == "0.3000"
    assert body["program"] == {
        "id": voucher.program_id,
        "name": voucher.program.display_name,
        "district": voucher.program.district.display_name,
    }
    assert body["enterprise"] == {"name": voucher.enterprise.name}
    assert set(body) == {
        "code",
        "status",
        "unit",
        "balance",
        "held",
        "face_value",
        "program",
        "enterprise",
        "rate_in_force",
        "valid_from",
        "expires_at",
    }


def test_an_unbound_platform_may_not_look_up_a_voucher(client, voucher) -> None:
    other = register_key()
    refused(get(client, other, f"vouchers/{voucher.code}"), 403, "platform_not_bound")


def test_an_unknown_code_is_voucher_not_found_and_a_mistyped_one_a_validation_error(
    client, signing_key, voucher
) -> None:
    refused(get(client, signing_key, f"vouchers/{generate_code()}"), 404, "voucher_not_found")
    mistyped = voucher.code[:-1] + ("A" if voucher.code[-1] != "A" else "B")
    refused(get(client, signing_key, f"vouchers/{mistyped}"), 400, "validation_error", "voucher")


# -- POST redemptions -----------------------------------------------------------


def test_a_redemption_covers_the_rate_and_reports_the_rest_as_payable(
    client, signing_key, voucher
) -> None:
    response = post(client, signing_key, "redemptions", charge(voucher))
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("status", "unit", "billed_amount", "covered")} == {
        "status": "captured",
        "unit": "CNY",
        "billed_amount": "120.00",
        "covered": "36.00",
    }
    assert body["payable_by_enterprise"] == "84.00"
    assert body["balance_after"] == "964.00"
    assert body["replayed"] is False
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("964.00")
    assert ledger_differences() == []


def test_the_same_reference_and_body_is_replayed_and_a_different_body_conflicts(
    client, signing_key, voucher
) -> None:
    body = charge(voucher)
    first = post(client, signing_key, "redemptions", body)
    again = post(client, signing_key, "redemptions", body)
    assert again.status_code == 201
    assert again.json() | {"replayed": False} == first.json()
    assert again.json()["replayed"] is True
    assert Redemption.objects.count() == 1
    different = post(client, signing_key, "redemptions", charge(voucher, billed_amount="50.00"))
    refused(different, 409, "reference_conflict", "reference")
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("964.00")


def test_an_idempotency_key_replays_the_byte_identical_body(client, signing_key, voucher) -> None:
    body = charge(voucher)
    first = post(client, signing_key, "redemptions", body, **{"Idempotency-Key": "k-1"})
    again = post(client, signing_key, "redemptions", body, **{"Idempotency-Key": "k-1"})
    assert again.status_code == first.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    other = post(
        client,
        signing_key,
        "redemptions",
        charge(voucher, reference="inv-2"),
        **{"Idempotency-Key": "k-1"},
    )
    refused(other, 409, "idempotency_key_reused")
    assert Redemption.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"billed_amount": 120.0}, "billed_amount"),
        ({"billed_amount": "1e3"}, "billed_amount"),
        ({"billed_amount": "12.345"}, "billed_amount"),
        ({"currency": None}, "currency"),
        ({"currency": "USD"}, "currency"),
        ({"occurred_at": "2026-05-01T10:00:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"reference": 123}, "reference"),
        ({"reference": ""}, "reference"),
        ({"allow_partial": "no"}, "allow_partial"),
        ({"usage": [{"model": "glm-5", "input_tokens": "100"}]}, "usage[0].input_tokens"),
        ({"usage": "lots"}, "usage"),
        ({"voucher": None}, "voucher"),
    ],
)
def test_malformed_redemptions_are_validation_errors_that_name_the_field(
    client, signing_key, voucher, fields, field
) -> None:
    response = post(client, signing_key, "redemptions", charge(voucher, **fields))
    refused(response, 400, "validation_error", field)
    assert Redemption.objects.count() == 0


def test_a_body_that_is_not_json_or_not_an_object_is_a_validation_error(
    client, signing_key
) -> None:
    prepared = sign(
        "POST",
        "/api/v1/redemptions",
        signing_key.auth(),
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    refused(send(client, prepared), 400, "validation_error")
    refused(post(client, signing_key, "redemptions", [1, 2]), 400, "validation_error")


def test_allow_partial_false_refuses_rather_than_cover_part(client, signing_key, program) -> None:
    voucher = issue(program, amount="10.00")
    response = post(client, signing_key, "redemptions", charge(voucher, allow_partial=False))
    refused(response, 409, "insufficient_balance")
    partial = post(client, signing_key, "redemptions", charge(voucher, reference="inv-2"))
    assert partial.status_code == 201
    assert partial.json()["covered"] == "10.00"
    assert partial.json()["payable_by_enterprise"] == "110.00"
    refused(
        post(client, signing_key, "redemptions", charge(voucher, reference="inv-3")),
        409,
        "voucher_exhausted",
    )


def test_refusals_for_vouchers_that_cannot_pay(client, signing_key, program) -> None:
    manager = official(program.district, Membership.Role.PROGRAM_MANAGER)
    suspended = issue(program)
    voucher_suspend(actor=Actor.for_user(manager), voucher=suspended, reason="checking")
    refused(post(client, signing_key, "redemptions", charge(suspended)), 409, "voucher_not_active")
    revoked = issue(program)
    voucher_revoke(actor=Actor.for_user(manager), voucher=revoked, reason="fraud")
    refused(post(client, signing_key, "redemptions", charge(revoked)), 409, "voucher_not_active")
    later = issue(program, valid_from=timezone.now() + datetime.timedelta(days=3))
    refused(post(client, signing_key, "redemptions", charge(later)), 409, "voucher_not_active")
    expired = issue(program, valid_from=timezone.now() - datetime.timedelta(days=2))
    Voucher.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    refused(post(client, signing_key, "redemptions", charge(expired)), 409, "voucher_expired")
    refused(
        post(client, signing_key, "redemptions", charge(suspended, voucher=generate_code())),
        404,
        "voucher_not_found",
    )
    assert Redemption.objects.count() == 0


def test_a_suspended_platform_and_an_unbound_one_are_refused(client, signing_key, voucher) -> None:
    other = register_key()
    refused(post(client, other, "redemptions", charge(voucher)), 403, "platform_not_bound")
    ComputePlatform.objects.filter(pk=signing_key.platform.pk).update(
        status=ComputePlatform.Status.SUSPENDED
    )
    refused(post(client, signing_key, "redemptions", charge(voucher)), 403, "platform_suspended")


def test_a_points_voucher_deducts_the_catalog_points_of_its_usage(
    client, signing_key, points_program
) -> None:
    voucher = issue(points_program, amount="400000")
    usage = [{"model": "glm-5", "input_tokens": 120000, "output_tokens": 8000}]
    body = charge(voucher, billed_amount=None, currency=None, usage=usage)
    response = post(client, signing_key, "redemptions", body)
    assert response.status_code == 201, response.content
    result = response.json()
    # 120,000 × 1,000 / 1,000 + 8,000 × 4,000 / 1,000 = 152,000 points.
    assert (result["unit"], result["points_used"], result["covered"]) == (
        "POINTS",
        152000,
        "152000",
    )
    assert result["balance_after"] == "248000"
    assert result["rate_applied"] is None
    redemption = Redemption.objects.get()
    assert redemption.usage[0]["catalog_entry_id"] is not None
    assert redemption.usage[0]["points"] == 152000
    refused(
        post(client, signing_key, "redemptions", charge(voucher, reference="r2", usage=None)),
        400,
        "validation_error",
        "usage",
    )
    refused(
        post(
            client,
            signing_key,
            "redemptions",
            charge(voucher, reference="r3", usage=[{"model": "unknown-model", "input_tokens": 5}]),
        ),
        400,
        "validation_error",
        "usage[0].model",
    )


# -- holds ------------------------------------------------------------------------


def test_a_hold_is_captured_for_at_most_its_amount_and_the_rest_released(
    client, signing_key, voucher
) -> None:
    created = post(
        client,
        signing_key,
        "holds",
        {"voucher": voucher.code, "reference": "job-1", "amount": "20.00"},
    )
    assert created.status_code == 201, created.content
    hold = created.json()
    assert (hold["status"], hold["amount"], hold["balance_after"]) == ("open", "20.00", "980.00")
    looked_up = get(client, signing_key, f"vouchers/{voucher.code}").json()
    assert (looked_up["balance"], looked_up["held"]) == ("980.00", "20.00")
    body = charge(voucher, reference="inv-job-1")
    del body["voucher"]
    captured = post(client, signing_key, f"holds/{hold['id']}/capture", body)
    assert captured.status_code == 201, captured.content
    # 30 % of 120.00 is 36.00, but the hold caps it at 20.00.
    assert captured.json()["covered"] == "20.00"
    assert captured.json()["balance_after"] == "980.00"
    refused(
        post(client, signing_key, f"holds/{hold['id']}/release", {}), 409, "hold_not_open", "hold"
    )
    assert ledger_differences() == []


def test_a_released_hold_gives_its_amount_back(client, signing_key, voucher) -> None:
    hold = post(
        client,
        signing_key,
        "holds",
        {"voucher": voucher.code, "reference": "job-2", "amount": "50.00"},
    ).json()
    released = post(client, signing_key, f"holds/{hold['id']}/release", {})
    assert released.status_code == 200, released.content
    assert (released.json()["status"], released.json()["balance_after"]) == ("released", "1000.00")


def test_holds_of_other_platforms_and_bad_ids_are_hold_not_found(
    client, signing_key, voucher
) -> None:
    hold = post(
        client,
        signing_key,
        "holds",
        {"voucher": voucher.code, "reference": "job-3", "amount": "5.00"},
    ).json()
    other = register_key()
    refused(post(client, other, f"holds/{hold['id']}/release", {}), 404, "hold_not_found")
    for bad in ("abc", "0", "99999999999999999999999", "¹", "٣"):
        refused(post(client, signing_key, f"holds/{bad}/release", {}), 404, "hold_not_found")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": 5}, "amount"),
        ({"expires_in": 0}, "expires_in"),
        ({"expires_in": 86401}, "expires_in"),
        ({"expires_in": "60"}, "expires_in"),
    ],
)
def test_malformed_holds_are_refused(client, signing_key, voucher, fields, field) -> None:
    body = {"voucher": voucher.code, "reference": "job-x", "amount": "5.00", **fields}
    refused(post(client, signing_key, "holds", body), 400, "validation_error", field)


def test_a_hold_larger_than_the_balance_is_insufficient(client, signing_key, voucher) -> None:
    body = {"voucher": voucher.code, "reference": "job-big", "amount": "1000.01"}
    refused(post(client, signing_key, "holds", body), 409, "insufficient_balance")


# -- reversals ----------------------------------------------------------------------


def test_reversals_refund_up_to_what_was_covered(client, signing_key, voucher) -> None:
    redemption = post(client, signing_key, "redemptions", charge(voucher)).json()
    path = f"redemptions/{redemption['id']}/reversals"
    part = post(
        client, signing_key, path, {"amount": "10.00", "reason": "retry", "reference": "rf-1"}
    )
    assert part.status_code == 201, part.content
    assert part.json() | {"id": 0} == {
        "id": 0,
        "redemption": redemption["id"],
        "amount": "10.00",
        "balance_after": "974.00",
        "replayed": False,
    }
    too_much = post(client, signing_key, path, {"amount": "26.01", "reference": "rf-2"})
    refused(too_much, 400, "validation_error", "amount")
    rest = post(client, signing_key, path, {"amount": "26.00", "reference": "rf-3"})
    assert rest.json()["balance_after"] == "1000.00"
    assert Redemption.objects.get().status == Redemption.Status.REVERSED
    other = register_key()
    refused(
        post(client, other, path, {"amount": "1.00", "reference": "rf-4"}),
        404,
        "redemption_not_found",
    )
    refused(
        post(
            client, signing_key, "redemptions/nope/reversals", {"amount": "1.00", "reference": "x"}
        ),
        404,
        "redemption_not_found",
    )
    assert ledger_differences() == []


# -- usage batches ------------------------------------------------------------------


def test_a_batch_applies_its_good_records_only_and_answers_in_order(
    client, signing_key, program, voucher
) -> None:
    poor = issue(program, amount="1.00")
    first = charge(voucher, reference="b-1")
    records = [
        first,
        charge(voucher, reference="b-2", billed_amount=3.5),
        charge(poor, reference="b-3", allow_partial=False),
        "not an object",
        first,
        charge(voucher, reference="b-5", billed_amount="10.00"),
    ]
    response = post(client, signing_key, "usage-batches", {"records": records})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [
        "captured",
        "rejected",
        "rejected",
        "rejected",
        "replayed",
        "captured",
    ]
    assert [r["reference"] for r in results] == ["b-1", "b-2", "b-3", None, "b-1", "b-5"]
    assert results[1]["error"]["code"] == "validation_error"
    assert results[1]["error"]["field"] == "billed_amount"
    assert results[2]["error"]["code"] == "insufficient_balance"
    assert results[5]["covered"] == "3.00"
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("1000.00") - Decimal("36.00") - Decimal("3.00")
    poor.refresh_from_db()
    assert poor.balance == Decimal("1.00")
    assert ledger_differences() == []


def test_a_batch_of_more_than_1000_records_is_refused_whole(client, signing_key, voucher) -> None:
    records = [charge(voucher, reference=f"r-{i}") for i in range(1001)]
    refused(
        post(client, signing_key, "usage-batches", {"records": records}), 400, "validation_error"
    )
    refused(post(client, signing_key, "usage-batches", {"records": []}), 400, "validation_error")
    assert Redemption.objects.count() == 0


# -- evidence -----------------------------------------------------------------------


def test_each_charge_keeps_the_signed_evidence_that_reverifies_with_the_public_key(
    client, signing_key, voucher
) -> None:
    response = post(client, signing_key, "redemptions", charge(voucher))
    redemption = Redemption.objects.get(pk=response.json()["id"])
    evidence = redemption.request_evidence
    assert evidence["key_id"] == signing_key.key_id
    assert evidence["content_digest"].startswith("sha-256=:")
    entry = LedgerEntry.objects.get(redemption=redemption, kind=LedgerEntry.Kind.CAPTURE)
    assert entry.request_evidence == evidence
    body = bytes(SignedRequestBody.objects.get(sha256=evidence["body_sha256"]).body)
    assert json.loads(body)["reference"] == "inv-000123"
    evidence_verify(evidence, public_key_pem=signing_key.key.public_key_pem, body=body)


def test_behind_the_proxy_a_charges_audit_event_records_the_platforms_address(
    client, signing_key, voucher, settings
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    prepared = sign("POST", "/api/v1/redemptions", signing_key.auth(), json=charge(voucher))
    response = send(
        client,
        prepared,
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="10.0.0.1, 198.51.100.77",
    )
    assert response.status_code == 201, response.content
    recorded = AuditEvent.objects.filter(
        event_type=events.LEDGER_ENTRY_RECORDED, actor_label__contains=signing_key.key_id
    )
    assert recorded.exists()
    assert {event.source_ip for event in recorded} == {"198.51.100.77"}


def _verify_evidence_of(redemption_id: int) -> str:
    out = io.StringIO()
    call_command("verify_evidence", str(redemption_id), stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "digest_component",
    ['"content-digest"', '"content-digest";sf', '"content-digest";key="sha-256"'],
)
def test_each_way_of_covering_the_digest_is_accepted_and_its_evidence_reverifies(
    client, signing_key, voucher, digest_component
) -> None:
    prepared = sign("POST", "/api/v1/redemptions", None, json=charge(voucher))
    independent_sign(
        prepared,
        key_id=signing_key.key_id,
        private_pem=signing_key.private_pem,
        covered=("@method", "@authority", "@target-uri", digest_component),
    )
    response = send(client, prepared)
    assert response.status_code == 201, response.content
    assert "OK, signed by" in _verify_evidence_of(response.json()["id"])


def test_a_digest_covered_by_member_must_still_match_the_body(client, signing_key, voucher) -> None:
    prepared = sign("POST", "/api/v1/redemptions", None, json=charge(voucher))
    independent_sign(
        prepared,
        key_id=signing_key.key_id,
        private_pem=signing_key.private_pem,
        covered=("@method", "@authority", "@target-uri", '"content-digest";key="sha-256"'),
    )
    tampered = send(client, prepared, body=prepared.body.replace(b"120.00", b"999.00"))
    refused(tampered, 401, "signature_invalid")
    assert Redemption.objects.count() == 0


def test_a_gateways_second_signature_is_kept_with_the_evidence(
    client, signing_key, voucher
) -> None:
    prepared = sign("POST", "/api/v1/redemptions", signing_key.auth(), json=charge(voucher))
    gateway_private, _public = new_key_pair()
    independent_sign(
        prepared,
        key_id="egress-gw-1",
        private_pem=gateway_private,
        covered=("@method", "@target-uri", "content-digest", '"signature";key="pyhms"'),
        label="gateway",
        append=True,
    )
    response = send(client, prepared)
    assert response.status_code == 201, response.content
    evidence = Redemption.objects.get(pk=response.json()["id"]).request_evidence
    assert evidence["label"] == "pyhms"
    assert "gateway=" in evidence["signature_input"]
    assert "gateway=" in evidence["signature"]
    assert "OK, signed by " + signing_key.key_id in _verify_evidence_of(response.json()["id"])


def test_a_chunked_body_that_the_server_unchunked_is_read_and_charged(
    client, signing_key, voucher
) -> None:
    """Node's fetch with a stream sends no Content-Length; gunicorn undoes the
    chunking and marks the input as ending with the body."""
    prepared = sign("POST", "/api/v1/redemptions", signing_key.auth(), json=charge(voucher))
    # What gunicorn hands the app: the de-chunked body, read to its end.
    unchunked = io.BytesIO(prepared.body)
    response = send(
        client,
        prepared,
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input_terminated": True, "wsgi.input": unchunked},
    )
    assert response.status_code == 201, response.content
    assert response.json()["reference"] == "inv-000123"
    assert "OK, signed by" in _verify_evidence_of(response.json()["id"])


# -- GET redemptions ----------------------------------------------------------------


def test_the_listing_pages_through_own_redemptions_oldest_first(
    client, signing_key, program, voucher
) -> None:
    for index in range(7):
        post(client, signing_key, "redemptions", charge(voucher, reference=f"l-{index}"))
    other = register_key()
    bind(program, other.platform)
    post(client, other, "redemptions", charge(voucher, reference="theirs"))
    seen: list[str] = []
    path = "redemptions?limit=3"
    pages = 0
    while True:
        with CaptureQueriesContext(connection) as queries:
            page = get(client, signing_key, path)
        assert page.status_code == 200, page.content
        pages += 1
        body = page.json()
        seen += [r["reference"] for r in body["results"]]
        # Signature check, nonce, rate limit and one query for the page: not one per row.
        assert len(queries) <= 8, [q["sql"] for q in queries]
        if not body["next_cursor"]:
            break
        path = f"redemptions?limit=3&cursor={body['next_cursor']}"
    assert seen == [f"l-{i}" for i in range(7)]
    assert pages == 3
    item = get(client, signing_key, "redemptions?limit=1").json()["results"][0]
    assert item["status"] == "captured"
    assert item["reversed_amount"] == "0.00"
    refused(get(client, signing_key, "redemptions?cursor=bogus"), 400, "validation_error", "cursor")
    refused(get(client, signing_key, "redemptions?since=today"), 400, "validation_error", "since")


def test_verify_evidence_reverifies_single_and_batched_charges_and_finds_tampering(
    client, signing_key, voucher
) -> None:
    single = post(client, signing_key, "redemptions", charge(voucher)).json()
    batch = post(
        client,
        signing_key,
        "usage-batches",
        {"records": [charge(voucher, reference="b-1"), charge(voucher, reference="b-2")]},
    ).json()
    ids = [single["id"]] + [r["id"] for r in batch["results"]]
    out = io.StringIO()
    call_command("verify_evidence", *map(str, ids), stdout=out)
    assert out.getvalue().count(": OK, signed by " + signing_key.key_id) == 3
    # One stored body for the whole batch.
    assert SignedRequestBody.objects.count() == 2

    # A changed amount in the database no longer matches what the platform signed.
    Redemption.objects.filter(pk=ids[1]).update(billed_amount=Decimal("999.00"))
    with pytest.raises(CommandError):
        call_command("verify_evidence", str(ids[1]), stdout=io.StringIO())
    # Nor does a changed body.
    stored = SignedRequestBody.objects.get(
        sha256=Redemption.objects.get(pk=ids[0]).request_evidence["body_sha256"]
    )
    SignedRequestBody.objects.filter(pk=stored.pk).update(
        body=bytes(stored.body).replace(b"120.00", b"999.00")
    )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_evidence", str(ids[0]), stdout=out)
    assert "Content-Digest" in out.getvalue()


def test_a_database_outage_is_503_with_retry_after_and_the_retry_succeeds(
    client, signing_key, voucher
) -> None:
    from django.db import OperationalError

    def outage(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        # The database goes away when the charge reaches the voucher's row.
        if "vouchers_voucher" in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    body = charge(voucher, reference="outage-1")
    with connection.execute_wrapper(outage):
        down = post(client, signing_key, "redemptions", body, **{"Idempotency-Key": "o-1"})
    refused(down, 503, "service_unavailable")
    assert down["Retry-After"] == "2"
    assert Redemption.objects.count() == 0
    again = post(client, signing_key, "redemptions", body, **{"Idempotency-Key": "o-1"})
    assert again.status_code == 201, again.content
    assert Redemption.objects.count() == 1


def test_a_signed_charge_with_a_key_is_one_transaction_of_few_statements(
    client, signing_key, voucher
) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = post(
            client, signing_key, "redemptions", charge(voucher), **{"Idempotency-Key": "k-1"}
        )
    assert response.status_code == 201, response.content
    sql = [q["sql"] for q in queries.captured_queries]
    savepoints = [s for s in sql if s.startswith("SAVEPOINT")]
    # The test's own transaction makes the Idempotency-Key's block a
    # savepoint; inside it only the charge keeps one (to survive a
    # reference race). SignedCall.perform adds none: anything it raises
    # rolls the key's transaction back whole.
    assert len(savepoints) == 2, sql
    # key, nonce, claim, reference, lock, steps, 4 writes, body, stored answer.
    assert len([s for s in sql if not s.startswith(("SAVEPOINT", "RELEASE"))]) == 12, sql


def test_a_refusal_under_a_key_leaves_nothing_and_the_next_charge_works(
    client, signing_key, program, voucher
) -> None:
    # Refused inside the charge, after the voucher lock, with no savepoint
    # of SignedCall.perform's: the key's transaction rolls back whole.
    small = issue(program, amount="10.00")
    refused(
        post(
            client,
            signing_key,
            "redemptions",
            charge(small, allow_partial=False),
            **{"Idempotency-Key": "k-2"},
        ),
        409,
        "insufficient_balance",
        "billed_amount",
    )
    small.refresh_from_db()
    assert small.balance == Decimal("10.00")
    assert not Redemption.objects.filter(voucher=small).exists()
    assert SignedRequestBody.objects.count() == 0
    first = post(client, signing_key, "redemptions", charge(voucher), **{"Idempotency-Key": "k-2"})
    assert first.status_code == 201, first.content
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("964.00")
    assert SignedRequestBody.objects.count() == 1
