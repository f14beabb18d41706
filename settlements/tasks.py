"""Celery tasks of the settlements app (idempotent; when they run is declared
in ``config/beat.py``)."""

from __future__ import annotations

from celery import shared_task

from .services import settlements_draw


@shared_task(name="settlements.draw")
def draw_settlements() -> int:
    """Draw the settlements of every period that has ended."""
    return len(settlements_draw())
