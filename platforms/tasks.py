"""Celery tasks of the platform API: pruning what the API keeps only for a
while. Each is idempotent (a second run deletes nothing more); the beat
schedule is ``config/beat.py``."""

from __future__ import annotations

from celery import shared_task

from .idempotency import idempotency_prune
from .signatures import nonce_prune


@shared_task(name="platforms.nonce_prune", ignore_result=True)
def prune_signature_nonces() -> int:
    """Delete the signature nonces no longer kept; return how many."""
    return nonce_prune()


@shared_task(name="platforms.idempotency_prune", ignore_result=True)
def prune_idempotency_records() -> int:
    """Delete the idempotency records older than 24 hours; return how many."""
    return idempotency_prune()
