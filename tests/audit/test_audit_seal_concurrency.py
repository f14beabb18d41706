"""Writers and sealers at once, on PostgreSQL: the chain stays whole."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent, AuditSeal
from audit.services import audit_checkpoint_create, audit_seal_pending
from audit.verification import audit_verify
from tests.audit.helpers import record

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _in_thread(target: Any, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    return threading.Thread(target=run)


def test_concurrent_writers_and_sealers_seal_every_event_once_in_one_chain(
    settings: Any,
) -> None:
    # Sealing after each commit is on, as in the demo: every writer's commit
    # also starts a sealer, so several sealers race for the advisory lock.
    settings.AUDIT_SEAL_AFTER_COMMIT = True
    errors: list[BaseException] = []

    def writer() -> None:
        for _ in range(15):
            with transaction.atomic():
                record(3)

    def sealer() -> None:
        for _ in range(20):
            audit_seal_pending(batch_size=7)

    threads = [_in_thread(writer, errors) for _ in range(4)]
    threads += [_in_thread(sealer, errors) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    audit_seal_pending(full_scan=True)
    audit_checkpoint_create()
    assert AuditEvent.objects.count() == 4 * 15 * 3
    seqs = list(AuditSeal.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 4 * 15 * 3 + 1))
    result = audit_verify()
    assert result.ok, result.problem
    assert result.unsealed == 0
