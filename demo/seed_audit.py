"""The audit log's part of the demo: its beat schedule, and a signed checkpoint
covering whatever the rest of the seed recorded.

Idempotent: the schedule rows are updated in place, sealing seals only new
events, and no checkpoint is signed when the log has not grown.
"""

from __future__ import annotations

from typing import Any

from audit.schedule import install_schedule
from audit.services import audit_checkpoint_create, audit_seal_pending


def seed_audit() -> dict[str, Any]:
    """Install the schedule, seal pending events and sign the tree head."""
    install_schedule()
    sealed = audit_seal_pending(full_scan=True)
    checkpoint = audit_checkpoint_create()
    return {
        "sealed": sealed,
        "checkpoint": (
            {"tree_size": checkpoint.tree_size, "root_hash": checkpoint.root_hash}
            if checkpoint
            else None
        ),
    }
