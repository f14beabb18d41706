"""Signed checkpoints: created when the log grew, exported, verifiable off-system."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command

from audit import signing
from audit.merkle import tree_hash
from audit.models import AuditCheckpoint, AuditSeal
from audit.services import audit_checkpoint_create, audit_seal_pending, checkpoint_message
from tests.audit.helpers import record

pytestmark = pytest.mark.django_db


def test_a_checkpoint_signs_the_size_chain_head_and_merkle_root() -> None:
    record(5)
    audit_seal_pending()
    cp = audit_checkpoint_create()
    assert cp is not None
    leaves = [
        bytes.fromhex(h)
        for h in AuditSeal.objects.order_by("seq").values_list("entry_hash", flat=True)
    ]
    assert cp.tree_size == 5
    assert cp.root_hash == tree_hash("sha256", leaves).hex()
    assert cp.chain_head == AuditSeal.objects.get(seq=5).chain_hash


def test_no_new_checkpoint_is_signed_while_the_log_has_not_grown() -> None:
    record(2)
    audit_seal_pending()
    first = audit_checkpoint_create()
    assert audit_checkpoint_create() == first
    record(1)
    audit_seal_pending()
    second = audit_checkpoint_create()
    assert second is not None and second.tree_size == 3
    assert AuditCheckpoint.objects.count() == 2


def test_the_next_checkpoint_extends_the_stored_frontier_to_the_same_root() -> None:
    record(6)
    audit_seal_pending()
    audit_checkpoint_create()
    record(5)
    audit_seal_pending()
    cp = audit_checkpoint_create()
    leaves = [
        bytes.fromhex(h)
        for h in AuditSeal.objects.order_by("seq").values_list("entry_hash", flat=True)
    ]
    assert cp is not None and cp.root_hash == tree_hash("sha256", leaves).hex()


def test_an_empty_log_has_no_checkpoint() -> None:
    assert audit_checkpoint_create() is None


def test_the_exported_checkpoint_verifies_with_only_the_exported_public_key(tmp_path: Path) -> None:
    record(3)
    out, key_file = tmp_path / "cp.json", tmp_path / "key.pem"
    call_command("audit_checkpoint", export=str(out), public_key=str(key_file))
    document = json.loads(out.read_text(encoding="utf-8"))
    (item,) = document["checkpoints"]
    assert item["tree_size"] == 3 and item["algorithm"] == "sha256"
    public = serialization.load_pem_public_key(key_file.read_bytes())
    assert document["public_keys"][item["key_id"]] == key_file.read_text()
    assert signing.verify(public, checkpoint_message(item), item["signature"])  # type: ignore[arg-type]
    item["tree_size"] = 4
    assert not signing.verify(public, checkpoint_message(item), item["signature"])  # type: ignore[arg-type]


def test_in_development_a_key_is_generated_once_into_var(settings: Any, tmp_path: Path) -> None:
    settings.AUDIT_SIGNING_KEY = ""
    settings.VAR_DIR = tmp_path
    first = signing.key_id(signing.signing_key().public_key())
    assert (tmp_path / signing.DEV_KEY_NAME).stat().st_mode & 0o077 == 0
    assert signing.key_id(signing.signing_key().public_key()) == first


def test_in_production_a_missing_key_is_an_error(settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.AUDIT_SIGNING_KEY = ""
    settings.PRODUCTION = True
    with pytest.raises(ImproperlyConfigured):
        signing.signing_key()


def test_the_key_may_be_given_as_a_file_path(settings: Any, tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_text(settings.AUDIT_SIGNING_KEY)
    expected = signing.key_id(signing.signing_key().public_key())
    settings.AUDIT_SIGNING_KEY = str(path)
    assert signing.key_id(signing.signing_key().public_key()) == expected
