"""``manage.py platform_key add|revoke|list`` and the key services behind it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from audit import events
from audit.models import AuditEvent
from audit.services import Actor
from common.errors import BusinessError
from platforms.models import PlatformKey
from platforms.services import platform_key_register
from tests.accounts.factories import ComputePlatformFactory
from tests.platforms.factories import new_key_pair

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("platform_key", *args, stdout=out)
    return out.getvalue()


def test_add_prints_the_new_key_id_alone_on_its_own_line(tmp_path: Path) -> None:
    platform = ComputePlatformFactory(slug="wuhan-aicc")
    _private, public = new_key_pair()
    pem = tmp_path / "key.pub.pem"
    pem.write_text(public)
    output = _run("add", "wuhan-aicc", str(pem), "--label", "prod")
    lines = output.splitlines()
    assert len(lines) == 1
    key = PlatformKey.objects.get()
    assert lines[0] == key.key_id
    assert key.platform == platform
    assert key.label == "prod"
    assert key.key_id.startswith("pk_") and len(key.key_id) == 27
    event = AuditEvent.objects.get(event_type=events.PLATFORM_KEY_REGISTERED)
    assert event.platform_id == platform.pk
    assert event.object_id == str(key.pk)


def test_key_ids_are_unguessable_and_distinct(tmp_path: Path) -> None:
    platform = ComputePlatformFactory(slug="p")
    ids = set()
    for _ in range(5):
        _private, public = new_key_pair()
        key = platform_key_register(
            actor=Actor.system("t"), platform=platform, public_key_pem=public
        )
        ids.add(key.key_id)
    assert len(ids) == 5


def test_add_refuses_a_private_key_and_other_algorithms(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ComputePlatformFactory(slug="p")
    private, _public = new_key_pair()
    secret = tmp_path / "private.pem"
    secret.write_bytes(private)
    with pytest.raises(CommandError, match="private key"):
        _run("add", "p", str(secret))
    ec_public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    other = tmp_path / "ec.pem"
    other.write_bytes(ec_public)
    with pytest.raises(CommandError, match="Ed25519"):
        _run("add", "p", str(other))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello")
    with pytest.raises(CommandError, match="PEM"):
        _run("add", "p", str(garbage))
    assert not PlatformKey.objects.exists()
    assert not AuditEvent.objects.filter(event_type=events.PLATFORM_KEY_REGISTERED).exists()


def test_add_to_an_unknown_platform_is_an_error(tmp_path: Path) -> None:
    _private, public = new_key_pair()
    pem = tmp_path / "k.pem"
    pem.write_text(public)
    with pytest.raises(CommandError, match="No platform"):
        _run("add", "nowhere", str(pem))


def test_revoke_ends_a_key_once_and_is_audited(tmp_path: Path) -> None:
    platform = ComputePlatformFactory(slug="p")
    _private, public = new_key_pair()
    key = platform_key_register(actor=Actor.system("t"), platform=platform, public_key_pem=public)
    output = _run("revoke", key.key_id)
    assert output.startswith(f"revoked {key.key_id} at ")
    key.refresh_from_db()
    assert key.revoked_at is not None
    event = AuditEvent.objects.get(event_type=events.PLATFORM_KEY_REVOKED)
    assert event.platform_id == platform.pk
    with pytest.raises(CommandError, match="already revoked"):
        _run("revoke", key.key_id)
    with pytest.raises(CommandError, match="No key"):
        _run("revoke", "pk_unknown")


def test_list_shows_each_key_with_its_state() -> None:
    platform = ComputePlatformFactory(slug="p")
    keys = []
    for label in ("old", "new"):
        _private, public = new_key_pair()
        keys.append(
            platform_key_register(
                actor=Actor.system("t"), platform=platform, public_key_pem=public, label=label
            )
        )
    _run("revoke", keys[0].key_id)
    lines = _run("list", "p").splitlines()
    assert len(lines) == 2
    by_id = {line.split("\t")[0]: line for line in lines}
    assert "\tactive\t" in by_id[keys[1].key_id]
    assert "\trevoked " in by_id[keys[0].key_id]
    assert "SHA256:" in by_id[keys[0].key_id]
    assert _run("list", "p") and ComputePlatformFactory(slug="empty")
    assert _run("list", "empty").strip() == "empty: no keys"


def test_the_service_stores_a_canonical_pem() -> None:
    platform = ComputePlatformFactory(slug="p")
    _private, public = new_key_pair()
    messy = "\n\n" + public.replace("\n", "\r\n") + "\n\n"
    key = platform_key_register(actor=Actor.system("t"), platform=platform, public_key_pem=messy)
    assert key.public_key_pem == public
    with pytest.raises(BusinessError) as refused:
        platform_key_register(actor=Actor.system("t"), platform=platform, public_key_pem="nope")
    assert refused.value.code == "validation_error"
    assert refused.value.field == "public_key_pem"
