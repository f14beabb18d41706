"""Bad input to the signed API is a 400 ``validation_error``, never a 500, and
a request that is not answered 2xx commits nothing.

The listed reproductions of issue 13 (deep nesting, out-of-range times, lone
surrogates, null records) come first; the property-based search for the whole
class (every field of every POST endpoint) follows. Every request is signed
by the stock client (``conftest.sign``), as a platform sends it.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import AuditEvent
from platforms.api import json_depth_exceeds
from platforms.models import IdempotencyRecord, SignedRequestBody
from programs.models import Program
from tests.platforms.conftest import SigningKey, error_of, send, sign
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue
from vouchers.ledger import ledger_differences
from vouchers.models import Hold, LedgerEntry, Redemption, Reversal, Voucher

pytestmark = pytest.mark.django_db

EXTREME_TIMES = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59+00:00",
]


@pytest.fixture
def program(signing_key: SigningKey) -> Program:
    program = ProgramFactory(per_charge_cap=Decimal("500.00"))
    bind(program, signing_key.platform)
    return program


@pytest.fixture
def voucher(program: Program) -> Voucher:
    return issue(program, amount="1000.00")


def now_iso() -> str:
    return timezone.localtime(timezone.now()).isoformat()


def charge_body(target: Voucher, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "voucher": target.code,
        "reference": "inv-1",
        "occurred_at": now_iso(),
        "billed_amount": "120.00",
        "currency": "CNY",
    }
    body.update(fields)
    return body


def post_raw(client: Any, signing: SigningKey, path: str, raw: bytes, **headers: str) -> Any:
    prepared = sign(
        "POST",
        f"/api/v1/{path}",
        signing.auth(),
        data=raw,
        headers={"Content-Type": "application/json", **headers},
    )
    return send(client, prepared)


def post(client: Any, signing: SigningKey, path: str, body: Any, **headers: str) -> Any:
    return post_raw(client, signing, path, json.dumps(body).encode(), **headers)


def get(client: Any, signing: SigningKey, path: str) -> Any:
    return send(client, sign("GET", f"/api/v1/{path}", signing.auth()))


def invalid(response: Any, field: str | None = "unset") -> dict[str, Any]:
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "validation_error", error
    if field != "unset":
        assert error["field"] == field, error
    return error


def nothing_changed(voucher: Voucher, balance: str = "1000.00") -> None:
    voucher.refresh_from_db()
    assert voucher.balance == Decimal(balance)
    assert voucher.held == Decimal("0")
    assert LedgerEntry.objects.filter(voucher=voucher).exclude(kind="issue").count() == 0
    assert not Redemption.objects.exists()
    assert not Hold.objects.exists()
    assert not Reversal.objects.exists()
    assert not SignedRequestBody.objects.exists()
    assert not IdempotencyRecord.objects.exists()


POST_PATHS = [
    "redemptions",
    "holds",
    "holds/1/capture",
    "holds/1/release",
    "redemptions/1/reversals",
    "usage-batches",
]


# -- the reproductions ------------------------------------------------------------


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_a_deeply_nested_body_is_a_validation_error_on_every_post(
    client, signing_key, voucher, path: str, opener: bytes
) -> None:
    response = post_raw(client, signing_key, path, opener * 100_000)
    assert response.status_code in (400, 404), response.content
    if response.status_code == 400:
        invalid(response, None)
    nothing_changed(voucher)


def test_a_nesting_just_past_what_json_needs_is_refused_and_a_normal_body_works(
    client, signing_key, voucher
) -> None:
    deep = {
        "voucher": voucher.code,
        "usage": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
    }
    invalid(post(client, signing_key, "redemptions", deep))
    ok = post(client, signing_key, "redemptions", charge_body(voucher))
    assert ok.status_code == 201, ok.content


@pytest.mark.parametrize("occurred_at", EXTREME_TIMES)
def test_an_occurred_at_at_the_ends_of_the_calendar_is_a_validation_error(
    client, signing_key, voucher, occurred_at: str
) -> None:
    invalid(
        post(client, signing_key, "redemptions", charge_body(voucher, occurred_at=occurred_at)),
        "occurred_at",
    )
    nothing_changed(voucher)


@pytest.mark.parametrize("occurred_at", EXTREME_TIMES)
def test_a_capture_at_the_ends_of_the_calendar_is_a_validation_error(
    client, signing_key, voucher, occurred_at: str
) -> None:
    hold = post(
        client,
        signing_key,
        "holds",
        {"voucher": voucher.code, "reference": "h-1", "amount": "100.00"},
    )
    assert hold.status_code == 201, hold.content
    body = charge_body(voucher, occurred_at=occurred_at, reference="c-1")
    del body["voucher"]
    invalid(post(client, signing_key, f"holds/{hold.json()['id']}/capture", body), "occurred_at")
    voucher.refresh_from_db()
    assert voucher.held == Decimal("100.00")
    assert not Redemption.objects.exists()


@pytest.mark.parametrize("since", EXTREME_TIMES)
def test_a_listing_since_the_ends_of_the_calendar_is_a_validation_error(
    client, signing_key, voucher, since: str
) -> None:
    invalid(get(client, signing_key, f"redemptions?since={quote(since)}"), "since")


def test_a_batch_record_at_the_ends_of_the_calendar_is_rejected_alone(
    client, signing_key, voucher
) -> None:
    records = [
        charge_body(voucher, reference="good-1"),
        charge_body(voucher, reference="bad-1", occurred_at=EXTREME_TIMES[0]),
    ]
    response = post(client, signing_key, "usage-batches", {"records": records})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["captured", "rejected"]
    assert results[1]["error"]["code"] == "validation_error"
    assert results[1]["error"]["field"] == "occurred_at"


def test_a_lone_surrogate_is_a_validation_error_and_a_batch_keeps_its_good_records(
    client, signing_key, voucher
) -> None:
    alone = post(client, signing_key, "redemptions", charge_body(voucher, reference="x\udc00"))
    invalid(alone, "reference")
    nothing_changed(voucher)
    records = [
        charge_body(voucher, reference="good-1"),
        charge_body(voucher, reference="x\udc00"),
        charge_body(voucher, reference="good-2", usage=[{"model": "m\ud800"}]),
    ]
    response = post(client, signing_key, "usage-batches", {"records": records})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["captured", "rejected", "rejected"]
    assert results[1]["error"]["field"] == "reference"
    assert results[1]["reference"] is None  # a reference that is not text is not echoed
    assert results[2]["error"]["field"] == "usage[0].model"
    assert Redemption.objects.count() == 1
    assert ledger_differences() == []


def test_a_null_batch_record_is_rejected_alone(client, signing_key, voucher) -> None:
    records = [None, charge_body(voucher, reference="good-1"), None]
    response = post(client, signing_key, "usage-batches", {"records": records})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "captured", "rejected"]
    assert results[0]["error"]["code"] == "validation_error"
    assert results[0]["reference"] is None
    assert Redemption.objects.count() == 1


def test_an_unexpected_error_rolls_back_the_whole_request_without_a_key(
    client, signing_key, voucher, monkeypatch
) -> None:
    # A fault after the good records were written (here: building the answer)
    # must not leave them committed while the client hears 500.
    from platforms import usage

    def broken(record: Any) -> str | None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(usage, "_reference_of", broken)
    events_before = AuditEvent.objects.count()
    records = [charge_body(voucher, reference="good-1"), charge_body(voucher, billed_amount=1)]
    response = post(client, signing_key, "usage-batches", {"records": records})
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"
    nothing_changed(voucher)
    assert AuditEvent.objects.count() == events_before


# -- the class, searched: every field of every POST endpoint, and the listing ---------

# 80 examples per run (about 30 s): each run draws new ones, and a failure
# found once is replayed first from hypothesis's example database.
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PLACEHOLDER = "__nasty__"

offsets = st.builds(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
any_time = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
    st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31)),
    offsets,
)
calendar_ends = st.sampled_from(
    [*EXTREME_TIMES, "0001-01-02T00:00:00+14:00", "9999-12-30T23:59:59-14:00"]
)
surrogate_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.characters(codec="utf-8"),
    ),
    min_size=1,
    max_size=20,
).filter(lambda text: any(0xD800 <= ord(ch) <= 0xDFFF for ch in text))
plain_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.text(min_size=256, max_size=2000),
    surrogate_text,
    any_time,
    calendar_ends,
    st.sampled_from(["", "\x00", "0", "-1", "1e9999", "NaN", "120.00", "9" * 40, "CNY"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _nested(depth: int, opener: str, closer: str, core: str = "1") -> str:
    return opener * depth + core + closer * depth


#: A JSON text: any plain value, or nesting from just past the limit to far past it.
nasty_json = st.one_of(
    plain_values.map(json.dumps),
    st.integers(min_value=30, max_value=200_000).map(lambda n: _nested(n, "[", "]")),
    st.integers(min_value=30, max_value=50_000).map(lambda n: _nested(n, '{"a":', "}")),
    st.integers(min_value=1, max_value=200_000).map(lambda n: "[" * n),
    st.just("NaN"),
)


@pytest.fixture
def fuzz_world(signing_key: SigningKey, voucher: Voucher) -> dict[str, Any]:
    # A hold to capture and a charge to reverse, made through the API itself.
    def setup(path: str, body: dict[str, Any]) -> int:
        response = post(Client(), signing_key, path, body)
        assert response.status_code == 201, response.content
        return int(response.json()["id"])

    hold_id = setup("holds", {"voucher": voucher.code, "reference": "fz-hold", "amount": "300.00"})
    redemption_id = setup("redemptions", charge_body(voucher, reference="fz-charge"))
    return {"hold": hold_id, "redemption": redemption_id}


def _templates(voucher: Voucher, world: dict[str, Any], n: int) -> dict[str, dict[str, Any]]:
    charge = charge_body(
        voucher, reference=f"fz-{n}", usage=[{"model": "m", "input_tokens": 1, "output_tokens": 2}]
    )
    capture = {k: v for k, v in charge.items() if k != "voucher"}
    return {
        "redemptions": charge,
        "holds": {"voucher": voucher.code, "reference": f"fz-h-{n}", "amount": "1.00"},
        f"holds/{world['hold']}/capture": capture,
        f"holds/{world['hold']}/release": {},
        f"redemptions/{world['redemption']}/reversals": {
            "amount": "0.01",
            "reason": "fz",
            "reference": f"fz-r-{n}",
        },
        "usage-batches": {"records": [charge_body(voucher, reference=f"fz-b-{n}"), dict(charge)]},
    }


def _paths(body: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``body`` a value sits (the body itself included)."""
    found = [prefix]
    if isinstance(body, dict):
        for key, value in body.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            found += _paths(value, (*prefix, index))
    return found


def _with_placeholder(body: Any, path: tuple[Any, ...], remove: bool) -> Any:
    if not path:
        return PLACEHOLDER
    head, rest = path[0], path[1:]
    copy: Any = dict(body) if isinstance(body, dict) else list(body)
    if remove and not rest:
        del copy[head]
    else:
        copy[head] = _with_placeholder(copy[head], rest, remove)
    return copy


def _state(voucher: Voucher) -> tuple[Any, ...]:
    voucher.refresh_from_db()
    return (
        voucher.balance,
        voucher.held,
        LedgerEntry.objects.count(),
        Redemption.objects.count(),
        Hold.objects.count(),
        Reversal.objects.count(),
        AuditEvent.objects.count(),
        SignedRequestBody.objects.count(),
        IdempotencyRecord.objects.count(),
    )


def _answered_in_shape(response: Any) -> None:
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        error_of(response)


_counter = iter(range(10**9))


@FUZZ
@given(data=st.data(), fragment=nasty_json, remove=st.booleans(), keyed=st.booleans())
def test_no_post_body_anywhere_gets_a_5xx_and_a_refusal_commits_nothing(
    client, signing_key, voucher, fuzz_world, data, fragment: str, remove: bool, keyed: bool
) -> None:
    n = next(_counter)
    templates = _templates(voucher, fuzz_world, n)
    path = data.draw(st.sampled_from(sorted(templates)), label="endpoint")
    template = templates[path]
    where = data.draw(st.sampled_from(_paths(template)), label="field")
    body = _with_placeholder(template, where, remove and bool(where))
    raw = json.dumps(body).replace(json.dumps(PLACEHOLDER), fragment).encode()
    headers = {"Idempotency-Key": f"fz-key-{n}"} if keyed else {}
    before = _state(voucher)
    response = post_raw(client, signing_key, path, raw, **headers)
    _answered_in_shape(response)
    if not 200 <= response.status_code < 300:
        assert _state(voucher) == before, response.content
    if path == "usage-batches" and response.status_code == 200:
        records = json.loads(raw)["records"]
        results = response.json()["results"]
        assert len(results) == len(records)
        for result in results:
            assert result["status"] in ("captured", "replayed", "rejected")
            if result["status"] == "rejected":
                assert set(result["error"]) == {"code", "message", "field"}
    assert ledger_differences() == []


@FUZZ
@given(
    name=st.sampled_from(["since", "voucher", "cursor", "limit"]),
    value=st.one_of(st.text(max_size=40), surrogate_text, any_time, calendar_ends),
)
def test_no_listing_query_gets_a_5xx(client, signing_key, voucher, name: str, value: str) -> None:
    query = quote(value.encode("utf-8", "surrogatepass"), safe="")
    _answered_in_shape(get(client, signing_key, f"redemptions?{name}={query}"))


def test_the_depth_check_counts_nested_containers() -> None:
    def nested(depth: int) -> Any:
        document: Any = 1
        for level in range(depth):
            document = [document] if level % 2 else {"a": document}
        return document

    for depth in range(1, 8):
        assert json_depth_exceeds(nested(depth), 4) is (depth > 4)
    assert not json_depth_exceeds("text", 0)
    assert json_depth_exceeds({}, 0)
    assert not json_depth_exceeds({"records": [{"usage": [{}]}]}, 5)
