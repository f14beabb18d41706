"""The read replica: only the reports that opt in read from it, nothing writes to it.

The ``replica`` alias is a test mirror of ``default`` (``conftest.py`` beside
this file), so the router tests install the router themselves and use
transactional tests: a mirror is a second connection, and it only sees rows
that were committed. Settings without ``DATABASE_REPLICA_URL`` (no router, no
alias) are checked in a fresh process.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections, router, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import District, Membership
from config.db_router import (
    REPLICA_DB_ALIAS,
    ReportingReplicaRouter,
    reporting_reads,
    reporting_reads_active,
)
from programs.models import PhaseStep, Program
from programs.phasedown import steps_of
from tests.accounts.factories import (
    ComputePlatformFactory,
    DistrictFactory,
    EnterpriseFactory,
    add_totp,
    platform_operator,
)
from tests.audit.factories import admin_client, official
from tests.config.test_settings import clean_env, run
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue, platform_actor
from vouchers.models import Redemption
from vouchers.services import voucher_redeem

ROUTER = "config.db_router.ReportingReplicaRouter"
BOTH = ["default", REPLICA_DB_ALIAS]
with_replica = pytest.mark.django_db(transaction=True, databases=BOTH)


@pytest.fixture
def replica_router(settings: Any) -> None:
    """The router as settings install it when ``DATABASE_REPLICA_URL`` is set."""
    settings.DATABASE_ROUTERS = [ROUTER]


def tables(queries: CaptureQueriesContext) -> str:
    return "\n".join(q["sql"] for q in queries.captured_queries)


# --- The router ------------------------------------------------------------------


@with_replica
def test_reads_go_to_the_replica_inside_reporting_reads_and_to_default_outside(
    replica_router: None,
) -> None:
    assert router.db_for_read(Program) == "default"
    assert Program.objects.all().db == "default"
    with reporting_reads():
        assert reporting_reads_active()
        assert router.db_for_read(Program) == REPLICA_DB_ALIAS
        assert Program.objects.all().db == REPLICA_DB_ALIAS
        with CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as on_replica:
            assert Program.objects.count() == 0
        assert len(on_replica) == 1
    assert not reporting_reads_active()
    assert router.db_for_read(Program) == "default"


@with_replica
def test_related_rows_of_a_replica_row_are_read_from_default_outside_the_block(
    replica_router: None,
) -> None:
    ProgramFactory()
    with reporting_reads():
        program = Program.objects.get()
    assert program._state.db == REPLICA_DB_ALIAS
    with CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as on_replica:
        assert program.district.code == "420103"
    assert len(on_replica) == 0


@with_replica
def test_a_programs_phase_steps_are_read_where_the_router_sends_them(
    replica_router: None,
) -> None:
    # steps_of() runs a compiled query, not the related manager: it must
    # still read the replica in a report and the primary elsewhere.
    program = ProgramFactory()
    PhaseStep.objects.create(program=program, starts_on=timezone.localdate(), rate=Decimal("0.10"))
    steps = 'FROM "vouchers_phasestep"'
    with CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as on_replica:
        with reporting_reads():
            assert len(steps_of(Program.objects.get(pk=program.pk))) == 1
        assert len(steps_of(Program.objects.get(pk=program.pk))) == 1
    assert tables(on_replica).count(steps) == 1


@with_replica
def test_reads_inside_a_transaction_stay_on_default_even_when_reporting(
    replica_router: None,
) -> None:
    with reporting_reads(), transaction.atomic():
        # A transaction is where writes happen: what it reads must be current.
        assert router.db_for_read(Program) == "default"
        district = District.objects.create(code="420104", name="硚口区", name_en="Qiaokou")
        assert District.objects.filter(pk=district.pk).exists()


@with_replica
def test_writes_always_go_to_default(replica_router: None) -> None:
    assert router.db_for_write(Program) == "default"
    with (
        reporting_reads(),
        CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_default,
    ):
        assert router.db_for_write(Program) == "default"
        District.objects.create(code="420105", name="汉阳区", name_en="Hanyang")
        district = District.objects.get(code="420105")
        assert district._state.db == REPLICA_DB_ALIAS
        # A row read from the replica is saved to the primary, never back to the replica.
        district.name_en = "Hanyang District"
        district.save(update_fields=["name_en"])
    assert "INSERT" not in tables(on_replica) and "UPDATE" not in tables(on_replica)
    assert 'INSERT INTO "accounts_district"' in tables(on_default)
    assert 'UPDATE "accounts_district"' in tables(on_default)
    assert District.objects.get(code="420105").name_en == "Hanyang District"


def test_migrations_run_on_default_only_and_relations_span_both_aliases() -> None:
    replica_router = ReportingReplicaRouter()
    assert replica_router.allow_migrate("default", "vouchers") is True
    assert replica_router.allow_migrate(REPLICA_DB_ALIAS, "vouchers") is False
    one, other = Program(), District()
    one._state.db, other._state.db = "default", REPLICA_DB_ALIAS
    assert replica_router.allow_relation(one, other) is True
    other._state.db = "elsewhere"
    assert replica_router.allow_relation(one, other) is None


def test_each_thread_has_its_own_reporting_context() -> None:
    seen: dict[str, bool] = {}
    entered, checked = threading.Event(), threading.Event()

    def other_thread() -> None:
        entered.wait(5)
        seen["other"] = reporting_reads_active()
        checked.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with reporting_reads():
        entered.set()
        checked.wait(5)
        seen["here"] = reporting_reads_active()
    thread.join(5)
    assert seen == {"here": True, "other": False}


# --- The pages that opt in ----------------------------------------------------------


@pytest.fixture
def world(replica_router: None) -> dict[str, Any]:
    district = DistrictFactory()
    platform = ComputePlatformFactory()
    program = ProgramFactory(district=district, name_en="Jianghan Compute")
    bind(program, platform)
    voucher = issue(program, EnterpriseFactory(name="武汉汉江智算科技有限公司"), "100000.00")
    voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher=voucher,
        reference="inv-1",
        occurred_at=timezone.now(),
        billed_amount=Decimal("1000.00"),
        usage=[{"model": "glm-5", "input_tokens": 10, "output_tokens": 5, "points": 15}],
    )
    return {"district": district, "platform": platform, "program": program}


def get_on_both(client: Any, url: str, **params: Any) -> tuple[Any, str, str]:
    """The response, and the SQL sent to the replica and to default for it."""
    with (
        CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_default,
    ):
        response = client.get(url, params)
    return response, tables(on_replica), tables(on_default)


REDEMPTIONS = 'FROM "vouchers_redemption"'


@with_replica
def test_the_dashboard_reads_its_figures_from_the_replica(world: dict[str, Any]) -> None:
    client = admin_client(official(world["district"], Membership.Role.AUDITOR))
    response, replica, default = get_on_both(client, reverse("audit_dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Jianghan Compute" in page and "¥300.00" in page
    for table in (REDEMPTIONS, 'FROM "vouchers_application"', 'FROM "audit_anomalyflag"'):
        assert table in replica
        assert table not in default
    # Who may see what (memberships, the districts in scope) is read on the primary.
    assert 'FROM "accounts_membership"' in default
    assert 'FROM "accounts_membership"' not in replica


@with_replica
def test_the_program_report_reads_from_the_replica_and_audits_on_default(
    world: dict[str, Any],
) -> None:
    client = admin_client(official(world["district"], Membership.Role.AUDITOR))
    url = reverse("audit_program_report", args=[world["program"].pk])
    response, replica, default = get_on_both(client, url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert REDEMPTIONS in replica and 'FROM "audit_auditcheckpoint"' in replica
    assert REDEMPTIONS not in default
    assert 'INSERT INTO "audit_auditevent"' in default
    assert "INSERT" not in replica


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@with_replica
def test_the_disclosure_export_reads_from_the_replica_and_audits_on_default(
    world: dict[str, Any], fmt: str
) -> None:
    client = admin_client(official(world["district"], Membership.Role.AUDITOR))
    url = reverse("audit_program_disclosure", args=[world["program"].pk, fmt])
    response, replica, default = get_on_both(client, url)
    assert response.status_code == 200
    if fmt == "csv":
        assert "武汉汉江智算科技有限公司" in response.content.decode("utf-8-sig")
    assert REDEMPTIONS in replica and 'FROM "accounts_enterprise"' in replica
    assert REDEMPTIONS not in default
    assert 'INSERT INTO "audit_auditevent"' in default
    assert "INSERT" not in replica


@with_replica
def test_the_settlement_statement_reads_from_the_replica(world: dict[str, Any]) -> None:
    from django.test import Client

    operator = platform_operator(world["platform"])
    add_totp(operator)  # the operator pages ask for TOTP
    client = Client()
    client.force_login(operator)
    month = timezone.localdate().strftime("%Y-%m")
    slug = world["platform"].slug
    url = reverse("operator_settlement", args=[slug, month, "csv"])
    response, replica, default = get_on_both(client, url)
    assert response.status_code == 200
    # Every amount in the unit's places (the issue: no "0" beside "300.00").
    assert "Jianghan Compute,CNY,1,1000.00,300.00,0.00,300.00" in response.content.decode(
        "utf-8-sig"
    )
    assert REDEMPTIONS in replica and 'FROM "vouchers_reversal"' in replica
    assert 'INSERT INTO "audit_auditevent"' in default
    # The page's latest activity is not a statement: it stays on the primary.
    _page, replica, default = get_on_both(client, reverse("operator_platform", args=[slug]))
    assert 'COUNT("vouchers_redemption"."id") AS "charges"' in replica
    assert 'COUNT("vouchers_redemption"."id") AS "charges"' not in default
    assert REDEMPTIONS in default


@with_replica
def test_everything_else_reads_default_with_the_router_installed(world: dict[str, Any]) -> None:
    client = admin_client(official(world["district"], Membership.Role.AUDITOR))
    url = reverse("admin:vouchers_redemption_changelist")
    response, replica, _default = get_on_both(client, url)
    assert response.status_code == 200
    assert replica == ""
    assert Redemption.objects.count() == 1


# --- Settings -------------------------------------------------------------------

PRINT_DATABASES = """
import json, django
django.setup()
from django.conf import settings as s
from django.db import router
from config.db_router import reporting_reads
from programs.models import Program
with reporting_reads():
    read = router.db_for_read(Program)
print(json.dumps({
    "aliases": sorted(s.DATABASES),
    "routers": s.DATABASE_ROUTERS,
    "read_in_reporting": read,
    "replica": {
        k: s.DATABASES["replica"].get(k) for k in ("NAME", "HOST", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "TEST")
    } if "replica" in s.DATABASES else None,
    "default_max_age": s.DATABASES["default"]["CONN_MAX_AGE"],
}))
"""


def databases_in(env: dict[str, str]) -> dict[str, Any]:
    result = run(["-c", PRINT_DATABASES], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_database_replica_url_there_is_no_replica_and_no_router() -> None:
    found = databases_in(clean_env(DATABASE_URL="postgres://u@db.example:5432/vouchers"))
    assert found["aliases"] == ["default"]
    assert found["routers"] == []
    assert found["replica"] is None
    # reporting_reads() is then a no-op: the read goes where it always goes.
    assert found["read_in_reporting"] == "default"


def test_database_replica_url_adds_the_replica_and_its_router() -> None:
    found = databases_in(
        clean_env(
            DATABASE_URL="postgres://u@db.example:5432/vouchers",
            DATABASE_REPLICA_URL="postgres://reader@replica.example:5432/vouchers",
            CONN_MAX_AGE="60",
        )
    )
    assert found["aliases"] == ["default", "replica"]
    assert found["routers"] == [ROUTER]
    assert found["read_in_reporting"] == "replica"
    replica = found["replica"]
    # Tests mirror the replica onto the default test database, never create one.
    assert replica.pop("TEST")["MIRROR"] == "default"
    assert replica == {
        "NAME": "vouchers",
        "HOST": "replica.example",
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
    assert found["default_max_age"] == 60
