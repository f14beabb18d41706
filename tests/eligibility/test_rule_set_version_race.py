"""Ten officials edit the same published version at once: one draft version
results, the others are told it is already being edited (threads against
PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from accounts.models import Membership
from audit.services import Actor
from common.errors import BusinessError
from eligibility.models import RuleSet, definition_to_rows
from eligibility.services import rule_set_new_version, rule_set_publish
from tests.eligibility.factories import rule_set
from tests.vouchers.factories import official

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_edits_of_a_published_version_make_one_draft(jianghan: Any) -> None:
    v1 = rule_set_publish(
        actor=Actor.system("tests"),
        rule_set=rule_set(jianghan, {"all": [{"fact": "headcount", "op": "gte", "value": "20"}]}),
    )
    managers = [official(jianghan, Membership.Role.PROGRAM_MANAGER) for _ in range(10)]
    barrier = threading.Barrier(len(managers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def edit(user: Any, staff: int) -> None:
        rows = definition_to_rows(
            {"all": [{"fact": "headcount", "op": "gte", "value": str(staff)}]}
        )
        try:
            barrier.wait()
            rule_set_new_version(actor=Actor.for_user(user), rule_set=v1, rows=rows[1])
            result = "created"
        except BusinessError:
            result = "refused"
        except Exception as exc:  # a crash must fail the test, not hide
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [
        threading.Thread(target=edit, args=(user, n)) for n, user in enumerate(managers, start=1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created"] + ["refused"] * 9
    versions = RuleSet.objects.filter(lineage=v1.lineage).order_by("version")
    assert [(v.version, v.status) for v in versions] == [(1, "published"), (2, "draft")]
    v1.refresh_from_db()
    assert v1.definition() == {"all": [{"fact": "headcount", "op": "gte", "value": "20"}]}
