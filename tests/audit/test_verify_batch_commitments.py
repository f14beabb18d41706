"""verify_audit proves a usage batch's ledger entries against the event that
committed them (a Merkle root over the entries' leaves, ``audit.commitments``).

Entries are changed, deleted and reordered as the database superuser with the
append-only triggers switched off, as an intruder with that access would; the
committing event itself stays sealed and untouched.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit import canonical
from audit.commitments import commitments_verify, ids_of_runs, leaf
from audit.events import RECORDS_COMMITTED
from audit.merkle import tree_hash
from audit.models import AuditEvent
from audit.services import Actor, audit_checkpoint_create, audit_seal_pending
from tests.accounts.factories import ComputePlatformFactory
from tests.audit import helpers
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue
from vouchers.commitments import stored_contents
from vouchers.models import LedgerEntry
from vouchers.services import RedeemInput, voucher_redeem, voucher_redeem_batch

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

LEDGER = "vouchers_ledgerentry"


def tamper(sql: str, params: list, *, table: str) -> None:
    """helpers.tamper, after the test transaction's deferred foreign-key checks
    have run (a table with pending trigger events cannot be altered)."""
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    helpers.tamper(sql, params, table=table)


def _verify() -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def batch() -> list[LedgerEntry]:
    """A sealed log with one single charge and a committed batch of 6 charges."""
    platform = ComputePlatformFactory()
    program = ProgramFactory(base_rate=Decimal("0.5"), per_charge_cap=None)
    bind(program, platform)
    vouchers = [issue(program, amount="1000.00") for _ in range(3)]
    actor = Actor.platform_key("key-1", evidence={"signature": "sig1=:AAAA:"})
    voucher_redeem(
        actor=actor,
        platform=platform,
        reference="single-1",
        occurred_at=timezone.now(),
        voucher_code=vouchers[0].code,
        billed_amount=Decimal("10.00"),
    )
    outcomes = voucher_redeem_batch(
        actor=actor,
        platform=platform,
        items=[
            RedeemInput(
                reference=f"b-{i}",
                occurred_at=timezone.now(),
                voucher_code=vouchers[i % 3].code,
                billed_amount=Decimal(f"{10 + i}.00"),
            )
            for i in range(6)
        ],
        request_evidence={"signature": "sig1=:AAAA:"},
        request_reference={"key_id": "key-1", "body_sha256": "0" * 64},
    )
    audit_seal_pending()
    audit_checkpoint_create()
    ids = [o.id for o in outcomes]
    return list(LedgerEntry.objects.filter(redemption_id__in=ids).order_by("pk"))


def test_a_batch_is_committed_by_one_event_whose_leaves_are_its_entries(batch) -> None:
    event = AuditEvent.objects.get(event_type=RECORDS_COMMITTED)
    after = event.after
    assert after["kind"] == "vouchers.ledgerentry"
    assert after["count"] == 6
    assert ids_of_runs(after["ids"]) == [e.pk for e in batch]
    # The leaves are the entries' as stored, and the root is their Merkle root.
    contents = stored_contents([e.pk for e in batch])
    leaves = [leaf("sha256", e.pk, contents[e.pk]) for e in batch]
    assert base64.b64decode(after["leaves"]) == b"".join(leaves)
    assert after["root"] == tree_hash("sha256", leaves).hex()
    # No entry of the batch has an event of its own; the single charge has.
    assert not AuditEvent.objects.filter(
        object_type="vouchers.ledgerentry", object_id__in=[str(e.pk) for e in batch]
    ).exists()
    status, out, err = _verify()
    assert status == 0, err
    assert "6 records committed by 1 batch events" in out


def test_a_changed_entry_inside_a_committed_batch_is_named(batch) -> None:
    victim = batch[3]
    tamper(
        "UPDATE vouchers_ledgerentry SET amount = amount + 1 WHERE id = %s",
        [victim.pk],
        table=LEDGER,
    )
    status, _out, err = _verify()
    assert status == 1
    assert f"vouchers.ledgerentry #{victim.pk} (record 4 of 6" in err
    assert "was changed after it was committed" in err


def test_a_changed_redemption_of_a_committed_entry_is_named(batch) -> None:
    victim = batch[1]
    tamper(
        "UPDATE vouchers_redemption SET billed_amount = 999 WHERE id = %s",
        [victim.redemption_id],
        table="vouchers_redemption",
    )
    status, _out, err = _verify()
    assert status == 1
    assert f"vouchers.ledgerentry #{victim.pk} (record 2 of 6" in err


def test_a_dropped_entry_inside_a_committed_batch_is_named(batch) -> None:
    victim = batch[5]
    tamper("DELETE FROM vouchers_ledgerentry WHERE id = %s", [victim.pk], table=LEDGER)
    status, _out, err = _verify()
    assert status == 1
    assert f"vouchers.ledgerentry #{victim.pk} (record 6 of 6" in err
    assert "has been deleted" in err


def test_reordered_entries_inside_a_committed_batch_are_named(batch) -> None:
    first, second = batch[1], batch[2]
    # Swap the two entries' ids: each row now sits at the other's place.
    for old, new in ((first.pk, -1), (second.pk, first.pk), (-1, second.pk)):
        tamper("UPDATE vouchers_ledgerentry SET id = %s WHERE id = %s", [new, old], table=LEDGER)
    status, _out, err = _verify()
    assert status == 1
    assert f"vouchers.ledgerentry #{first.pk} (record 2 of 6" in err
    assert f"holds what was committed as #{second.pk}: records were reordered" in err


def test_an_entry_slipped_in_without_an_event_or_a_batch_is_named(batch) -> None:
    model = batch[0]
    tamper(
        "INSERT INTO vouchers_ledgerentry (voucher_id, kind, amount, balance_change, held_change, "
        "balance_after, held_after, program_return, actor_kind, actor_label, note, created_at) "
        "SELECT voucher_id, 'capture', 1, -1, 0, 0, 0, 0, actor_kind, actor_label, '', now() "
        "FROM vouchers_ledgerentry WHERE id = %s",
        [model.pk],
        table=LEDGER,
    )
    added = LedgerEntry.objects.order_by("-pk").first()
    status, _out, err = _verify()
    assert status == 1
    assert f"vouchers.ledgerentry #{added.pk} is in no committed batch" in err


def test_an_entry_committed_twice_is_named(batch) -> None:
    """A second event claiming an entry already committed (a forged or
    replayed commitment) is refused: each entry is covered exactly once."""
    event = AuditEvent.objects.get(event_type=RECORDS_COMMITTED)
    AuditEvent.objects.create(
        event_type=RECORDS_COMMITTED,
        actor_kind="system",
        actor_label="forger",
        object_type="vouchers.ledgerentry",
        object_id=event.object_id,
        after=event.after,
    )
    check = commitments_verify()
    assert not check.ok
    assert "is committed twice" in check.problem
    assert check.record_id == batch[0].pk


def test_the_leaves_use_the_chains_algorithm(batch, settings) -> None:
    event = AuditEvent.objects.get(event_type=RECORDS_COMMITTED)
    assert event.after["algorithm"] == canonical.hash_algorithm() == "sha256"
    assert len(base64.b64decode(event.after["leaves"])) == 6 * 32
