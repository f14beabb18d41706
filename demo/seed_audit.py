"""The audit log's part of the demo: the beat schedule (every app's, which
includes the audit log's sealing and checkpoints), and a signed checkpoint
covering whatever the rest of the seed recorded.

Idempotent: the schedule rows are updated in place, sealing seals only new
events, and no checkpoint is signed when the log has not grown.
"""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command

from audit.services import audit_checkpoint_create, audit_seal_pending


def seed_audit() -> dict[str, Any]:
    """Install the schedule, seal pending events and sign the tree head."""
    call_command("setup_periodic_tasks", stdout=io.StringIO())
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
