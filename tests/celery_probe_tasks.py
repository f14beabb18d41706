"""A test-only Celery task that holds the real reminder delivery where a kill should land.

The worker subprocesses of ``tests/test_celery_worker_kill.py`` load this
module with ``--include``; the project never imports it. The task writes each
step to a journal file (one JSON object a line) that the test reads, and on
its first attempt waits at the chosen point until the test kills the worker.
It then calls the real task, ``vouchers.deliver_reminder``, so what is tested
is the production code path; only the pause is added.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from celery import shared_task

from vouchers.tasks import deliver_voucher_reminder

# How long a held first attempt waits to be killed. The test kills it within
# a second or two; the bound only keeps a broken test from hanging a worker.
HOLD_SECONDS = 60

HOLD_POINTS = ("before", "after", "")


def journal_read(journal: str | Path) -> list[dict[str, Any]]:
    """The steps written to ``journal`` so far, oldest first."""
    path = Path(journal)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _journal_write(journal: str, step: str, **details: Any) -> None:
    with Path(journal).open("a") as out:
        out.write(json.dumps({"step": step, "pid": os.getpid(), **details}) + "\n")


def _wait_to_be_killed(journal: str, point: str) -> None:
    _journal_write(journal, f"holding {point}")
    time.sleep(HOLD_SECONDS)
    raise RuntimeError(f"the worker was not killed while holding {point} the delivery")


@shared_task(name="tests.deliver_reminder_held", bind=True)
def deliver_reminder_held(self: Any, reminder_id: int, journal: str, hold: str) -> None:
    """Deliver a reminder with ``vouchers.deliver_reminder``; on the first
    attempt, wait to be killed ``hold`` ("before" or "after") the delivery."""
    if hold not in HOLD_POINTS:
        raise ValueError(f"hold must be one of {HOLD_POINTS}, not {hold!r}")
    # The journal, not the broker's redelivered flag, decides which attempt
    # holds: the flag is what the test checks, so it must not steer the task.
    first_attempt = not journal_read(journal)
    delivery_info = self.request.delivery_info or {}
    _journal_write(journal, "started", redelivered=bool(delivery_info.get("redelivered")))
    if first_attempt and hold == "before":
        _wait_to_be_killed(journal, "before")
    deliver_voucher_reminder(reminder_id)
    _journal_write(journal, "delivered")
    if first_attempt and hold == "after":
        # The delivery has committed; the message is acknowledged only when
        # this function returns (acks_late), so a kill here redelivers it.
        _wait_to_be_killed(journal, "after")
    _journal_write(journal, "finished")


@shared_task(name="tests.barrier")
def barrier(journal: str) -> None:
    """Write "passed" to ``journal``.

    With prefetch 1 and one worker on the queue, the broker hands this task
    out only once the worker has acknowledged every message before it: when
    it has run, nothing enqueued earlier is left to run again.
    """
    _journal_write(journal, "passed")
