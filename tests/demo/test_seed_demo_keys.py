"""``seed_demo --demo-keys DIR``: a registered demo key per demo platform, its
private key written where the reference client finds it, reused on later runs;
and the ``--json`` fields scripts use to pick a voucher and a platform."""

from __future__ import annotations

import io
import json
import re
import shlex
import stat
from contextlib import redirect_stdout
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cv_client.cli import main as client_main
from django.core.management import call_command

from audit import events
from audit.models import AuditEvent
from audit.services import Actor
from platforms.keys import normalized_public_pem
from platforms.models import PlatformKey
from platforms.services import platform_key_revoke
from programs.models import Program
from vouchers.models import Voucher

CLIENT = "python -m cv_client"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The seed sets a password for every demo user (see test_seed_demo)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run_seed(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def seed_json(*args: str) -> dict[str, Any]:
    return json.loads(run_seed("--json", *args)[0])


def public_pem_of(private_key_file: str | Path) -> str:
    private = serialization.load_pem_private_key(Path(private_key_file).read_bytes(), None)
    assert isinstance(private, Ed25519PrivateKey)
    return normalized_public_pem(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def client_command(output: str) -> list[str]:
    """The reference-client command of the hint, as arguments after the module name."""
    line = next(line for line in output.splitlines() if CLIENT in line)
    return shlex.split(line[line.index(CLIENT) + len(CLIENT) :])


@pytest.mark.django_db
def test_demo_keys_are_written_registered_and_kept_private(tmp_path: Path) -> None:
    directory = tmp_path / "var" / "demo-keys"  # not there yet
    data = seed_json("--demo-keys", str(directory))
    slugs = [p["slug"] for p in data["platforms"]]
    assert len(slugs) == 3
    assert [k["platform"] for k in data["demo_keys"]] == slugs
    assert PlatformKey.objects.count() == 3
    for entry, platform in zip(data["demo_keys"], data["platforms"], strict=True):
        pem = Path(entry["private_key_file"])
        assert pem == (directory / f"{entry['platform']}.pem").resolve()
        assert pem.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
        key_id_file = directory / f"{entry['platform']}.key_id"
        assert key_id_file.read_text().strip() == entry["key_id"]
        key = PlatformKey.objects.get(key_id=entry["key_id"])
        assert key.platform.slug == entry["platform"]
        assert key.revoked_at is None
        assert key.label == "demo"
        assert key.public_key_pem == public_pem_of(pem)
        # Also on the platform's own entry.
        assert (platform["key_id"], platform["private_key"]) == (entry["key_id"], str(pem))
    # Registered through the service: one audit event per key, by the seed.
    registered = AuditEvent.objects.filter(event_type=events.PLATFORM_KEY_REGISTERED)
    assert registered.count() == 3
    assert {e.object_id for e in registered} == {
        str(pk) for pk in PlatformKey.objects.values_list("pk", flat=True)
    }


@pytest.mark.django_db
def test_a_second_run_reuses_the_keys(tmp_path: Path) -> None:
    first = seed_json("--demo-keys", str(tmp_path))["demo_keys"]
    pems = {k["platform"]: Path(k["private_key_file"]).read_bytes() for k in first}
    loose = Path(first[0]["private_key_file"])
    loose.chmod(0o644)
    (tmp_path / f"{first[1]['platform']}.key_id").unlink()  # the private key is enough

    second = seed_json("--demo-keys", str(tmp_path))["demo_keys"]
    assert second == first
    assert PlatformKey.objects.count() == 3
    assert {k["platform"]: Path(k["private_key_file"]).read_bytes() for k in second} == pems
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600
    assert (tmp_path / f"{first[1]['platform']}.key_id").read_text().strip() == first[1]["key_id"]


@pytest.mark.django_db
def test_a_revoked_or_unusable_key_is_replaced_by_a_new_pair(tmp_path: Path) -> None:
    first = {k["platform"]: k for k in seed_json("--demo-keys", str(tmp_path))["demo_keys"]}
    revoked_slug, broken_slug, kept_slug = list(first)
    platform_key_revoke(
        actor=Actor.system("test"),
        key=PlatformKey.objects.get(key_id=first[revoked_slug]["key_id"]),
    )
    old_revoked_pem = (tmp_path / f"{revoked_slug}.pem").read_bytes()
    (tmp_path / f"{broken_slug}.pem").write_text("not a key")

    second = {k["platform"]: k for k in seed_json("--demo-keys", str(tmp_path))["demo_keys"]}
    assert second[kept_slug] == first[kept_slug]
    for slug in (revoked_slug, broken_slug):
        assert second[slug]["key_id"] != first[slug]["key_id"]
        key = PlatformKey.objects.get(key_id=second[slug]["key_id"])
        assert key.platform.slug == slug and key.revoked_at is None
        assert key.public_key_pem == public_pem_of(second[slug]["private_key_file"])
        assert (tmp_path / f"{slug}.key_id").read_text().strip() == key.key_id
        assert stat.S_IMODE((tmp_path / f"{slug}.pem").stat().st_mode) == 0o600
    # A fresh pair, not the revoked public key registered again.
    assert (tmp_path / f"{revoked_slug}.pem").read_bytes() != old_revoked_pem
    assert PlatformKey.objects.count() == 5
    assert list(tmp_path.glob("*.tmp")) == []


@pytest.mark.django_db
def test_without_the_option_no_key_is_registered_or_written(tmp_path: Path) -> None:
    data = seed_json()
    assert "demo_keys" not in data
    assert all("key_id" not in p for p in data["platforms"])
    out, err = run_seed()
    assert CLIENT not in out + err
    assert not PlatformKey.objects.exists()


@pytest.mark.django_db
def test_json_lists_platforms_and_vouchers_with_the_platforms_they_are_bound_to() -> None:
    data = seed_json()
    slugs = {p["slug"] for p in data["platforms"]}
    assert all(p["name"] for p in data["platforms"])
    assert data["vouchers"]
    units = set()
    held = 0
    for entry in data["vouchers"]:
        voucher = Voucher.objects.select_related("program").get(code=entry["code"])
        assert entry["status"] == voucher.status
        assert entry["unit"] == voucher.unit
        units.add(entry["unit"])
        pattern = r"\d+" if voucher.unit == Program.Unit.POINTS else r"\d+\.\d\d"
        assert re.fullmatch(pattern, entry["balance"]), entry
        assert Decimal(entry["balance"]) == voucher.available  # the balance less holds
        held += voucher.held > 0
        bound = sorted(voucher.program.platforms.values_list("slug", flat=True))
        assert entry["platforms"] == bound
        assert set(bound) <= slugs
    assert units == {"CNY", "POINTS"}
    assert held  # not vacuous: some demo voucher has money on hold
    # What a script looks for: an active voucher and a platform it is bound to.
    assert any(v["status"] == "active" and v["platforms"] for v in data["vouchers"])


@pytest.mark.django_db(transaction=True)
def test_the_hint_names_the_keys_and_a_lookup_that_works(live_server: Any, tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    out, err = run_seed("--demo-keys", str(directory))
    assert err == ""
    hint = next(line for line in out.splitlines() if CLIENT in line)
    assert str(directory.resolve()) in hint
    argv = client_command(out)
    assert argv[:4] == ["--demo-keys", str(directory), "--platform", argv[3]]
    assert argv[4] == "lookup"
    platform, code = argv[3], argv[5]
    voucher = Voucher.objects.get(code=code)
    assert voucher.status == Voucher.Status.ACTIVE
    assert voucher.program.platforms.filter(slug=platform).exists()

    # The command as printed, pointed at the test server: the signature with the
    # written private key verifies and the voucher is found.
    answer = io.StringIO()
    with redirect_stdout(answer):
        assert client_main(["--url", live_server.url, *argv]) == 0
    looked_up = json.loads(answer.getvalue())
    assert (looked_up["code"], looked_up["status"]) == (code, "active")

    # With --json, stdout stays JSON and the hint goes to stderr.
    out, err = run_seed("--json", "--demo-keys", str(directory))
    assert json.loads(out)["demo_keys"]
    assert client_command(err) == argv
