"""Reads of the audit log: inclusion proofs against a checkpoint."""

from __future__ import annotations

from typing import Any

from .merkle import inclusion_proof, tree_hash
from .models import AuditArchive, AuditCheckpoint, AuditSeal
from .services import checkpoint_body


class ProofUnavailable(Exception):
    """The event is not sealed, not covered by a checkpoint, or archived."""


def audit_inclusion_proof(
    *, event_id: int, checkpoint: AuditCheckpoint | None = None
) -> dict[str, Any]:
    """An RFC 9162 inclusion proof that ``event_id`` is in ``checkpoint``'s tree
    (the newest checkpoint that covers it, by default), with the signed head."""
    seal = AuditSeal.objects.filter(event_id=event_id).first()
    if seal is None:
        raise ProofUnavailable("The event is not sealed yet.")
    if AuditArchive.objects.exists():
        raise ProofUnavailable("Proofs after an archive are computed from the archive file.")
    if checkpoint is None:
        checkpoint = (
            AuditCheckpoint.objects.filter(tree_size__gte=seal.seq)
            .order_by("-tree_size", "-id")
            .first()
        )
    if checkpoint is None or checkpoint.tree_size < seal.seq:
        raise ProofUnavailable("No checkpoint covers the event yet.")
    leaves = [
        bytes.fromhex(h)
        for h in AuditSeal.objects.filter(seq__lte=checkpoint.tree_size)
        .order_by("seq")
        .values_list("entry_hash", flat=True)
    ]
    index = seal.seq - 1
    proof = inclusion_proof(checkpoint.algorithm, index, leaves)
    if tree_hash(checkpoint.algorithm, leaves).hex() != checkpoint.root_hash:
        raise ProofUnavailable("The log does not match the checkpoint; run verify_audit.")
    return {
        "event_id": event_id,
        "leaf_index": index,
        "leaf_hash": seal.entry_hash,
        "inclusion_path": [p.hex() for p in proof],
        "checkpoint": {**checkpoint_body(checkpoint), "signature": checkpoint.signature},
    }
