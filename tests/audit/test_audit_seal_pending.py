"""Sealing committed events into the chain, after commit, one sealer at a time."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from audit import canonical
from audit.models import AuditEvent, AuditSeal
from audit.services import (
    COPY_FROM,
    Actor,
    audit_event,
    audit_record_all,
    audit_seal_pending,
    chain_head,
)
from tests.audit.helpers import record

pytestmark = pytest.mark.django_db


def test_sealing_links_every_event_in_order_from_the_genesis_head() -> None:
    events = record(5)
    assert audit_seal_pending() == 5
    seals = list(AuditSeal.objects.order_by("seq"))
    assert [s.seq for s in seals] == [1, 2, 3, 4, 5]
    assert [s.event_id for s in seals] == [e.pk for e in events]
    assert seals[0].prev_hash == canonical.GENESIS
    for before, after in itertools.pairwise(seals):
        assert after.prev_hash == before.chain_hash
    assert chain_head().chain_hash == seals[-1].chain_hash


def test_sealing_again_seals_only_the_new_events() -> None:
    record(3)
    audit_seal_pending()
    assert audit_seal_pending() == 0
    record(2)
    assert audit_seal_pending() == 2
    assert AuditSeal.objects.count() == 5


def test_small_batches_seal_everything_in_several_transactions() -> None:
    record(7)
    assert audit_seal_pending(batch_size=3) == 7
    assert list(AuditSeal.objects.values_list("seq", flat=True)) == list(range(1, 8))


def test_the_entry_hash_is_computed_from_the_stored_row() -> None:
    (event,) = record(1)
    audit_seal_pending()
    row = AuditEvent.objects.filter(pk=event.pk).values(*canonical.EVENT_FIELDS_V1).get()
    assert AuditSeal.objects.get(event=event).entry_hash == canonical.entry_hash("sha256", row)


def test_recording_events_asks_for_one_seal_after_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        record(4)
    assert len(callbacks) == 1
    assert AuditSeal.objects.count() == 4


@pytest.mark.parametrize("n", [1, 3, COPY_FROM, COPY_FROM + 5])
def test_recording_built_events_asks_for_one_seal_after_commit(
    n: int, django_capture_on_commit_callbacks: Any
) -> None:
    # One event (one INSERT), a few (bulk_create) or many (COPY, a usage
    # batch's): each way the events are sealed once the transaction commits.
    built = [
        audit_event(
            actor=Actor.system("tests"),
            event_type="test.built",
            obj=None,
            object_type="tests.thing",
            object_id=str(i),
        )
        for i in range(n)
    ]
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        audit_record_all(built)
    assert len(callbacks) == 1
    assert AuditSeal.objects.filter(event__in=built).count() == n


def test_nothing_is_sealed_before_the_transaction_commits(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        record(2)
        assert AuditSeal.objects.count() == 0


def _event_with_id(pk: int) -> AuditEvent:
    return AuditEvent.objects.create(
        id=pk, event_type="test.event", actor_kind="system", actor_label="t", object_type="x"
    )


def test_an_event_that_committed_long_after_its_id_was_taken_waits_for_a_full_scan(
    settings: Any,
) -> None:
    settings.AUDIT_SEAL_LOOKBACK = 100
    first = record(1)[0]
    _event_with_id(first.pk + 1000)
    assert audit_seal_pending() == 2
    # A transaction that took its id early and committed only now.
    straggler = _event_with_id(first.pk + 500)
    assert audit_seal_pending() == 0
    assert audit_seal_pending(full_scan=True) == 1
    seal = AuditSeal.objects.get(event=straggler)
    assert seal.seq == 3  # sealed in the order the sealer saw it, not by id


def test_sm3_chains_are_sealed_with_sm3(settings: Any) -> None:
    settings.AUDIT_HASH_ALGORITHM = "sm3"
    (event,) = record(1)
    audit_seal_pending()
    seal = AuditSeal.objects.get(event=event)
    row = AuditEvent.objects.filter(pk=event.pk).values(*canonical.EVENT_FIELDS_V1).get()
    assert seal.algorithm == "sm3"
    assert seal.entry_hash == canonical.entry_hash("sm3", row)


def test_switching_the_algorithm_of_a_running_chain_is_refused(settings: Any) -> None:
    record(1)
    audit_seal_pending()
    settings.AUDIT_HASH_ALGORITHM = "sm3"
    record(1)
    with pytest.raises(ImproperlyConfigured, match="sha256"):
        audit_seal_pending()
