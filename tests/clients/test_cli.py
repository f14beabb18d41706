"""The reference client's command line (``python -m cv_client``) against a live
server: seed_demo's keys, and re-running a redeem replays it."""

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
from cv_client.cli import main

from tests.platforms.conftest import SigningKey, register_key

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.platforms.urls"),
]


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
    from tests.programs.factories import ProgramFactory, bind
    from tests.vouchers.factories import issue

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
