"""Inclusion proofs of events in signed checkpoints."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.merkle import verify_inclusion
from audit.selectors import ProofUnavailable, audit_inclusion_proof
from audit.services import audit_checkpoint_create, audit_seal_pending
from tests.audit.helpers import record

pytestmark = pytest.mark.django_db


def test_the_proof_of_every_event_verifies_against_the_signed_root() -> None:
    events = record(11)
    audit_seal_pending()
    cp = audit_checkpoint_create()
    assert cp is not None
    for event in events:
        proof = audit_inclusion_proof(event_id=event.pk)
        assert verify_inclusion(
            "sha256",
            proof["leaf_index"],
            cp.tree_size,
            bytes.fromhex(proof["leaf_hash"]),
            [bytes.fromhex(p) for p in proof["inclusion_path"]],
            bytes.fromhex(proof["checkpoint"]["root_hash"]),
        )


def test_an_event_not_yet_in_a_checkpoint_has_no_proof() -> None:
    (event,) = record(1)
    with pytest.raises(ProofUnavailable, match="not sealed"):
        audit_inclusion_proof(event_id=event.pk)
    audit_seal_pending()
    with pytest.raises(CommandError, match="No checkpoint"):
        call_command("audit_prove", str(event.pk))


def test_the_command_prints_the_proof_as_json() -> None:
    events = record(3)
    audit_seal_pending()
    audit_checkpoint_create()
    out = StringIO()
    call_command("audit_prove", str(events[1].pk), stdout=out)
    proof = json.loads(out.getvalue())
    assert proof["leaf_index"] == 1 and len(proof["inclusion_path"]) == 2
