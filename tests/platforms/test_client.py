"""The reference client against a live server: signing, safe retries, CLI."""

from __future__ import annotations

import datetime
import io
import json
import time
from contextlib import redirect_stderr, redirect_stdout
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from audit.models import AuditEvent
from platforms.client import APIError, PlatformClient, main, redemption_body

from .conftest import SigningKey, register_key
from .urls import EVENT

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.platforms.urls"),
]


def _client(live_server: Any, signing: SigningKey, **kwargs: Any) -> PlatformClient:
    return PlatformClient(
        live_server.url, key_id=signing.key_id, private_key_pem=signing.private_pem, **kwargs
    )


class LoseFirstResponse(HTTPAdapter):
    """Delivers the request, then drops the server's answer once: the case
    an Idempotency-Key exists for."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().send(request, *args, **kwargs)
        self.sent.append(request)
        if len(self.sent) == 1:
            raise requests.ConnectionError("connection reset before the answer arrived")
        return response


def test_ping_and_refusals_come_back_as_values_and_api_errors(live_server: Any) -> None:
    signing = register_key()
    api = _client(live_server, signing)
    assert api.ping()["key_id"] == signing.key_id
    with pytest.raises(APIError) as refused:
        api.request("POST", "test-writes", body={"reference": "r", "amount": "x"})
    assert refused.value.status == 400
    assert refused.value.code == "validation_error"
    assert refused.value.field == "amount"


def test_a_retry_after_a_lost_answer_reuses_the_key_and_charges_once(live_server: Any) -> None:
    signing = register_key()
    adapter = LoseFirstResponse()
    session = requests.Session()
    session.mount("http://", adapter)
    sleeps: list[float] = []
    api = _client(live_server, signing, session=session, sleep=sleeps.append)
    answer = api.request("POST", "test-writes", body={"reference": "inv-9", "amount": "9.00"})
    assert answer["reference"] == "inv-9"
    assert len(adapter.sent) == 2
    first, second = adapter.sent
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body
    # Signed afresh: a new nonce, so the retry is not refused as a replay.
    assert first.headers["Signature-Input"] != second.headers["Signature-Input"]
    assert len(sleeps) == 1
    assert AuditEvent.objects.filter(event_type=EVENT).count() == 1


def test_429_is_retried_after_retry_after(
    live_server: Any, settings: Any, fresh_rate_window: Any
) -> None:
    from django.core.cache import cache

    cache.clear()
    settings.PLATFORM_API_RATE_LIMIT = "2/minute"
    signing = register_key()
    sleeps: list[float] = []
    api = _client(live_server, signing, sleep=sleeps.append, max_retries=2)
    api.ping()
    api.ping()
    with pytest.raises(APIError) as refused:
        api.ping()
    assert refused.value.code == "rate_limited"
    assert len(sleeps) == 2
    assert all(1 <= s <= 30 for s in sleeps)


def test_amounts_must_not_be_floats() -> None:
    with pytest.raises(TypeError):
        redemption_body(reference="r", occurred_at="2026-05-01T10:00:00+08:00", billed_amount=1.1)
    body = redemption_body(
        voucher="V",
        reference="r",
        occurred_at="2026-05-01T10:00:00+08:00",
        usage=[{"model": "kimi-k2.5", "input_tokens": 5}],
    )
    assert body["usage"] == [{"model": "kimi-k2.5", "input_tokens": 5, "output_tokens": 0}]
    assert "billed_amount" not in body


def test_the_cli_pings_with_seed_demo_keys(live_server: Any, tmp_path: Path) -> None:
    signing = register_key()
    (tmp_path / f"{signing.platform.slug}.pem").write_bytes(signing.private_pem)
    (tmp_path / f"{signing.platform.slug}.key_id").write_text(signing.key_id + "\n")
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(
            [
                "--url",
                live_server.url,
                "--demo-keys",
                str(tmp_path),
                "--platform",
                signing.platform.slug,
                "ping",
            ]
        )
    assert code == 0
    assert json.loads(out.getvalue())["platform"] == signing.platform.slug


class CannedBatches(HTTPAdapter):
    """Answers usage batches without a server (the endpoint lands with issue 4's
    services): one result per record, so batching and order can be checked."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.requests.append(request)
        records = json.loads(request.body or b"{}")["records"]
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(
            {"results": [{"reference": r["reference"], "status": "captured"} for r in records]}
        ).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        return response


@pytest.mark.django_db(transaction=False)
def test_usage_is_reported_in_batches_of_1000_in_order_with_content_keys() -> None:
    signing_private = register_key().private_pem
    adapter = CannedBatches()
    session = requests.Session()
    session.mount("http://", adapter)
    api = PlatformClient(
        "http://api.test", key_id="pk_x", private_key_pem=signing_private, session=session
    )
    records = [{"reference": f"job-{i}"} for i in range(2500)]
    results = api.report_usage(records)
    assert [r["reference"] for r in results] == [f"job-{i}" for i in range(2500)]
    assert [len(json.loads(r.body)["records"]) for r in adapter.requests] == [1000, 1000, 500]
    keys = [r.headers["Idempotency-Key"] for r in adapter.requests]
    assert len(set(keys)) == 3
    api.report_usage(records[:1000])
    assert adapter.requests[-1].headers["Idempotency-Key"] == keys[0]
    assert all("Signature-Input" in r.headers for r in adapter.requests)


def _demo_keys(tmp_path: Path, signing: SigningKey) -> Path:
    """The files ``seed_demo --demo-keys DIR`` writes for one platform."""
    (tmp_path / f"{signing.platform.slug}.pem").write_bytes(signing.private_pem)
    (tmp_path / f"{signing.platform.slug}.key_id").write_text(signing.key_id + "\n")
    return tmp_path


def _cli(argv: list[str]) -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    answer = json.loads(out.getvalue()) if out.getvalue().strip() else None
    return code, answer, err.getvalue()


def _bound_voucher(signing: SigningKey, face: str = "1000.00") -> Any:
    from tests.vouchers.factories import ProgramFactory, bind, issue

    program = ProgramFactory(base_rate=Decimal("1"), per_charge_cap=None)
    bind(program, signing.platform)
    from django.utils import timezone

    return issue(program, amount=face, valid_from=timezone.now() - datetime.timedelta(days=1))


@pytest.mark.postgres
def test_re_running_the_readme_redeem_command_replays_and_charges_once(
    live_server: Any, tmp_path: Path
) -> None:
    from vouchers.models import Redemption

    signing = register_key()
    voucher = _bound_voucher(signing)
    keys = _demo_keys(tmp_path, signing)
    # The README's command, word for word but for the URL and the code.
    argv = [
        "--url",
        live_server.url,
        "--demo-keys",
        str(keys),
        "--platform",
        signing.platform.slug,
        "redeem",
        voucher.code,
        "--reference",
        "inv-000123",
        "--amount",
        "120.00",
    ]
    code, first, _err = _cli(argv)
    assert code == 0, _err
    assert first["status"] == "captured"
    # The CLI stamps occurred_at to the second; a re-run a moment later (the
    # answer was lost, or the operator is unsure) must not be a new charge.
    time.sleep(1.1)
    code, again, err = _cli(argv)
    assert code == 0, err
    assert again["id"] == first["id"]
    assert "nothing was charged again" in err
    assert Redemption.objects.filter(voucher=voucher).count() == 1
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("880.00")
    # The record of what was sent lives beside the demo keys.
    assert (keys / f"{signing.platform.slug}.sent.jsonl").exists()


@pytest.mark.postgres
def test_the_cli_sends_the_usage_time_it_is_given_and_a_changed_charge_is_a_conflict(
    live_server: Any, tmp_path: Path
) -> None:
    from vouchers.models import Redemption

    signing = register_key()
    voucher = _bound_voucher(signing)
    keys = _demo_keys(tmp_path, signing)
    base = ["--url", live_server.url, "--demo-keys", str(keys), "--platform"]
    base += [signing.platform.slug, "redeem", voucher.code, "--reference", "job-77"]
    used_at = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=3)).isoformat()
    code, first, err = _cli([*base, "--amount", "10.00", "--occurred-at", used_at])
    assert code == 0, err
    redemption = Redemption.objects.get(voucher=voucher)
    assert redemption.occurred_at == datetime.datetime.fromisoformat(used_at)
    # The same command again replays; without --occurred-at too (the journal
    # remembers the time that was sent).
    assert _cli([*base, "--amount", "10.00", "--occurred-at", used_at])[1]["id"] == first["id"]
    assert _cli([*base, "--amount", "10.00"])[1]["id"] == first["id"]
    # A different charge under the same reference is refused, as the contract says.
    code, _answer, err = _cli([*base, "--amount", "11.00"])
    assert code == 1
    assert "reference_conflict" in err
    assert Redemption.objects.filter(voucher=voucher).count() == 1


@pytest.mark.postgres
def test_without_the_journal_a_retry_is_told_to_give_the_original_time(
    live_server: Any, tmp_path: Path
) -> None:
    signing = register_key()
    voucher = _bound_voucher(signing)
    keys = _demo_keys(tmp_path, signing)
    argv = ["--url", live_server.url, "--demo-keys", str(keys), "--platform"]
    argv += [signing.platform.slug, "redeem", voucher.code, "--reference", "inv-9"]
    argv += ["--amount", "5.00"]
    assert _cli(argv)[0] == 0
    (keys / f"{signing.platform.slug}.sent.jsonl").unlink()
    time.sleep(1.1)
    code, _answer, err = _cli(argv)
    assert code == 1
    assert "reference_conflict" in err
    assert "--occurred-at" in err


@pytest.mark.postgres
def test_a_refused_redeem_is_not_replayed_so_its_time_is_not_kept(
    live_server: Any, tmp_path: Path
) -> None:
    signing = register_key()
    voucher = _bound_voucher(signing, face="10.00")
    keys = _demo_keys(tmp_path, signing)
    argv = ["--url", live_server.url, "--demo-keys", str(keys), "--platform"]
    argv += [signing.platform.slug, "redeem", voucher.code, "--reference", "inv-late"]
    argv += ["--amount", "50.00", "--no-partial"]
    code, _answer, err = _cli(argv)
    assert code == 1
    assert "insufficient_balance" in err
    time.sleep(1.1)
    # Partial cover allowed now: a new request with a new time, and it is done.
    code, answer, err = _cli(argv[:-1])
    assert code == 0, err
    assert answer["covered"] == "10.00"
    assert "nothing was charged again" not in err
    journal = keys / f"{signing.platform.slug}.sent.jsonl"
    sent = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [entry.get("refused") for entry in sent] == [None, "insufficient_balance", None]
    assert sent[0]["body"]["occurred_at"] != sent[2]["body"]["occurred_at"]
