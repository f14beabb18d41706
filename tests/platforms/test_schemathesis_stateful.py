"""Schemathesis, stateful: chains of signed calls that follow the schema's links.

The OpenAPI document links a new hold to its capture and release, a charge
(a redemption, or a capture) to its reversals and to its voucher's look-up,
and a voucher's look-up to a charge or a hold of it
(:mod:`platforms.schema_links`). The state machine schemathesis builds from
those links sends random sequences of such calls to a live server, every
request signed by the stock client (as in ``test_schemathesis.py``), and
checks every answer: no 5xx, status, content type, headers and body as the
schema says.

Generated values alone would almost never name a real voucher, so a
schema-valid request has, most of the time, its voucher code, amounts,
reference and usage time replaced by ones that can succeed (seeded vouchers
bound to the signing platform, small amounts, a recent ``occurred_at``);
requests generated to be invalid are sent as generated. Afterwards the
ledger must check clean, and captures, releases, reversals and look-ups must
have succeeded through the links, so that the run cannot pass on refusals
alone.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.core.parameters import ParameterLocation  # noqa: E402
from schemathesis.engine.errors import is_inconsistent_replay  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    ignored_auth,
    positive_data_acceptance,
)
from schemathesis.specs.openapi.formats import unregister_string_format  # noqa: E402

from platforms.schema_links import LINKS  # noqa: E402
from programs.models import Program  # noqa: E402
from tests.platforms.conftest import register_key  # noqa: E402
from tests.platforms.factories import glm5_catalog_entry  # noqa: E402
from tests.programs.factories import ProgramFactory, bind  # noqa: E402
from tests.vouchers.factories import issue  # noqa: E402
from vouchers.ledger import ledger_differences  # noqa: E402
from vouchers.models import Hold, Redemption, Reversal, Voucher  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MODEL = "glm-5"
POINTS = Program.Unit.POINTS
# How often a schema-valid request gets values that can succeed.
REAL_VALUES = 0.85
# The same checks the stateless run leaves out, for the same reasons (see
# test_schemathesis.py): the signing session would hide a missing signature,
# and a schema-valid body may still be refused by a business rule.
EXCLUDED_CHECKS = [ignored_auth, positive_data_acceptance]
# Scenarios of at most STEPS calls each, within a time budget.
SCENARIOS = 25
STEPS = 10
BUDGET_SECONDS = 60
SETTINGS = settings(
    max_examples=SCENARIOS,
    stateful_step_count=STEPS,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)

# Amounts as the schema describes them ("format": "decimal" and a pattern).
# The pattern's look-ahead, (?=.*[1-9]), is beyond the generator, which then
# draws strings at random and keeps the few that match: without this, nearly
# every scenario was given up. The strategy draws exactly the matching strings.
AMOUNTS = st.from_regex(r"\A[0-9]{1,14}(\.[0-9]{1,2})?\Z").filter(
    lambda text: any(digit in text for digit in "123456789")
)


@pytest.fixture
def decimal_amounts() -> Iterator[None]:
    schemathesis.openapi.format("decimal", AMOUNTS)
    yield
    unregister_string_format("decimal")


@dataclass(frozen=True)
class Seeded:
    code: str
    unit: str
    bound: bool


def _seed(platform: Any) -> list[Seeded]:
    """Vouchers bound to ``platform`` with room for hundreds of small charges,
    one of them in points, and one of a program the platform is not bound to."""
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    cny = ProgramFactory(per_charge_cap=Decimal("500.00"))
    points = ProgramFactory(unit=POINTS, kind=Program.Kind.TOKEN)
    unbound = ProgramFactory()
    bind(cny, platform)
    bind(points, platform)
    glm5_catalog_entry(platform, timezone.now() - datetime.timedelta(days=30))
    issued = [
        *((issue(cny, amount="100000.00", valid_from=an_hour_ago), True) for _ in range(3)),
        (issue(points, amount="400000", valid_from=an_hour_ago), True),
        (issue(unbound, amount="1000.00", valid_from=an_hour_ago), False),
    ]
    for voucher, _bound in issued:
        voucher.refresh_from_db()
        assert voucher.status == Voucher.Status.ACTIVE, voucher.status
    return [Seeded(voucher.code, voucher.unit, bound) for voucher, bound in issued]


def _unique() -> str:
    return f"st-{uuid.uuid4().hex[:16]}"


def _occurred_at() -> str:
    ago = datetime.timedelta(seconds=random.randint(1, 1800))
    return (timezone.now() - ago).astimezone(SHANGHAI).isoformat()


def _cny(at_most: Decimal = Decimal("50.00")) -> str:
    return f"{Decimal(random.randint(1, int(at_most * 100))) / 100:.2f}"


def _amount(unit: str, at_most: Decimal) -> str:
    if unit == POINTS:
        return str(random.randint(1, max(1, int(at_most))))
    return _cny(at_most)


def _priced(body: dict[str, Any], unit: str) -> dict[str, Any]:
    """``body`` with the priced part of a charge that a voucher in ``unit`` can pay."""
    body = {k: v for k, v in body.items() if k not in {"billed_amount", "currency", "usage"}}
    if unit == POINTS:
        line = {"model": MODEL, "input_tokens": random.randint(0, 5000)}
        return body | {"usage": [line | {"output_tokens": random.randint(1, 2000)}]}
    return body | {"billed_amount": _cny(), "currency": "CNY"}


def _negates_the_signature(case: Any) -> bool:
    """Whether ``case`` was generated to be invalid in its headers by its
    ``Signature`` header alone (missing, or not what the scheme says).

    The signing session would add a good signature and so make the headers
    valid, so such a case is sent unsigned instead: what it was generated
    to test. Its other parts may be invalid too (or made valid by a link).
    """
    meta = case.meta  # revalidated after the link's values went in
    if meta is None or not meta.generation.mode.is_negative:
        return False
    header = meta.components.get(ParameterLocation.HEADER)
    if header is None or not header.mode.is_negative:
        return False
    data = meta.phase.data
    names = {
        mutation.parameter
        for mutation in data.mutations
        if mutation.parameter_location == ParameterLocation.HEADER
    }
    if data.parameter_location == ParameterLocation.HEADER and data.parameter:
        names.add(data.parameter)
    return names == {"Signature"}


@dataclass
class Tally:
    """What the run did: calls by how they were reached and how they were answered."""

    calls: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    # Started, counting those Hypothesis discards (drawing fails) and reruns.
    scenarios: int = 0
    restarts: int = 0
    # Every check failure, kept even if Hypothesis later gives up on the run.
    failures: list[BaseException] = field(default_factory=list)

    def record(self, via: str, response: Any) -> None:
        answer = str(response.status_code)
        if response.status_code >= 400:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                answer += " " + response.json()["error"]["code"]
        self.calls[(via, answer)] += 1

    def succeeded(self, link_name: str) -> int:
        return sum(
            count
            for (via, answer), count in self.calls.items()
            if f"] {link_name} -> " in via and answer.startswith("2")
        )

    def summary(self) -> str:
        rows = sorted(f"{n:5d}  {answer:28s} {via}" for (via, answer), n in self.calls.items())
        head = (
            f"{self.scenarios} scenarios started ({self.restarts} restarts), "
            f"{sum(self.calls.values())} calls"
        )
        return "\n".join([head, *rows])


class RealValues:
    """Replaces the generated values of a schema-valid request with ones that
    can succeed, and remembers from the answers what later requests need."""

    def __init__(self, seeded: list[Seeded]) -> None:
        self.seeded = seeded
        self.units = {voucher.code: voucher.unit for voucher in seeded}
        self.bound = [voucher for voucher in seeded if voucher.bound]
        # By id (as text): the unit of each hold's voucher; what each charge
        # covered, and in which unit.
        self.hold_units: dict[str, str] = {}
        self.covered: dict[str, tuple[Decimal, str]] = {}

    def apply(self, case: Any) -> None:
        operation_id = case.operation.definition.raw["operationId"]
        if operation_id == "voucher_lookup":
            if case.path_parameters.get("code") not in self.units:
                case.path_parameters = {"code": random.choice(self.seeded).code}
            return
        if not isinstance(case.body, dict) and operation_id != "hold_release":
            return
        body = dict(case.body) if isinstance(case.body, dict) else None
        if operation_id in {"redemption_create", "hold_create"}:
            assert body is not None
            if body.get("voucher") not in self.units:
                # Mostly a voucher this platform may charge, now and then the other.
                pick = random.choice(self.seeded if random.random() < 0.1 else self.bound)
                body["voucher"] = pick.code
            unit = self.units[body["voucher"]]
            if operation_id == "hold_create":
                body["amount"] = _amount(unit, Decimal("500"))
            else:
                body = _priced(body, unit) | {"occurred_at": _occurred_at()}
        elif operation_id == "hold_capture":
            assert body is not None
            unit = self.hold_units.get(str(case.path_parameters.get("hold_id")), "CNY")
            body = _priced(body, unit) | {"occurred_at": _occurred_at()}
        elif operation_id == "reversal_create":
            assert body is not None
            charge = str(case.path_parameters.get("redemption_id"))
            covered, unit = self.covered.get(charge, (Decimal("1"), "CNY"))
            if covered > 0:
                body["amount"] = _amount(unit, covered)
        if body is not None:
            body["reference"] = _unique()
            case.body = body
        # A generated key may come again in a later scenario with this body,
        # whose reference is new, and be refused as reused: Hypothesis would
        # then see another answer to the same draws and give up the run.
        if case.headers and "Idempotency-Key" in case.headers:
            headers = case.headers.copy()
            headers["Idempotency-Key"] = _unique()
            case.headers = headers

    def learn(self, case: Any, response: Any) -> None:
        if response.status_code not in (200, 201):
            return
        operation_id = case.operation.definition.raw["operationId"]
        answer = response.json()
        if operation_id == "hold_create" and isinstance(case.body, dict):
            unit = self.units.get(case.body.get("voucher"), "CNY")
            self.hold_units[str(answer["id"])] = unit
        elif operation_id in {"redemption_create", "hold_capture"}:
            self.covered[str(answer["id"])] = (Decimal(answer["covered"]), answer["unit"])


def _workflow(live_url: str, signing_session: requests.Session, seeded: list[Seeded]) -> Any:
    api_schema = schemathesis.openapi.from_url(f"{live_url}/api/v1/schema/?format=json")
    # Only the links the document declares, not ones schemathesis would guess.
    api_schema.config.phases.stateful.inference.algorithms = []
    unsigned_session = requests.Session()
    tally = Tally()

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            tally.scenarios += 1
            self.real = RealValues(seeded)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            unsigned = _negates_the_signature(case)
            return {
                "session": unsigned_session if unsigned else signing_session,
                "base_url": live_url,
            }

        def before_call(self, case: Any) -> None:
            if case.meta.generation.mode.is_positive and random.random() < REAL_VALUES:
                self.real.apply(case)

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            self.real.learn(case, response)

        def step(self, input: Any) -> Any:
            try:
                output = super().step(input)
            except Exception as failure:
                tally.failures.append(failure)
                raise
            if input.transition is not None:
                via = input.transition.id
            else:
                via = f"(start) {input.case.operation.label}"
            tally.record(via, output.response)
            return output

        def validate_response(  # type: ignore[override]
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=EXCLUDED_CHECKS,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Workflow.tally = tally
    return Workflow


def _run(workflow: Any) -> Tally:
    """Run scenarios until SCENARIOS have run or the budget is spent.

    The server's state changes from one scenario to the next, so Hypothesis
    may replay a prefix and see a different answer (and so different rules
    to choose from); it then gives up with FlakyStrategyDefinition. That is
    no finding about the API — schemathesis' own runner restarts the same
    way — so the run starts afresh. A check failure is never lost to that:
    every one is kept in the tally and raised.
    """
    tally: Tally = workflow.tally
    ends = time.monotonic() + BUDGET_SECONDS
    while tally.scenarios < SCENARIOS and time.monotonic() < ends:
        try:
            workflow.run(settings=SETTINGS)
        except (FlakyStrategyDefinition, AssertionError) as exc:
            if tally.failures:
                raise tally.failures[0] from exc
            if isinstance(exc, AssertionError) and not is_inconsistent_replay(exc):
                raise
            tally.restarts += 1
            continue
        break
    if tally.failures:
        raise tally.failures[0]
    return tally


def test_the_schema_links_name_real_operations_and_parameters(client: Client) -> None:
    document = client.get("/api/v1/schema/?format=json").json()
    operations = {
        operation["operationId"]: operation
        for path_item in document["paths"].values()
        for operation in path_item.values()
    }
    found = {}
    for operation_id, operation in operations.items():
        for status, response in operation["responses"].items():
            for name, link in response.get("links", {}).items():
                found[(operation_id, status, name)] = link
                target = operations[link["operationId"]]
                names = {parameter["name"] for parameter in target.get("parameters", [])}
                assert set(link.get("parameters", {})) <= names, (name, link)
                if "requestBody" in link:
                    assert "requestBody" in target, (name, link)
    assert set(found) == {(link.source, link.status, link.name) for link in LINKS}
    assert found[("hold_create", "201", "CaptureHold")] == {
        "operationId": "hold_capture",
        "description": "Charge the hold just made.",
        "parameters": {"hold_id": "$response.body#/id"},
    }
    assert found[("voucher_lookup", "200", "RedeemVoucher")]["requestBody"] == {
        "voucher": "$response.body#/code"
    }


def test_linked_call_chains_get_no_5xx_match_the_schema_and_keep_the_ledger(
    live_server: Any, decimal_amounts: None
) -> None:
    signing = register_key()
    seeded = _seed(signing.platform)
    session = requests.Session()
    session.auth = signing.auth()

    tally = _run(_workflow(live_server.url, session, seeded))

    print(tally.summary())
    assert ledger_differences() == []
    # The links fired and led somewhere, not only to refusals.
    for link_name in ("CaptureHold", "ReleaseHold", "ReverseRedemption", "LookUpVoucher"):
        assert tally.succeeded(link_name) > 0, (link_name, tally.summary())
    assert tally.succeeded("RedeemVoucher") + tally.succeeded("HoldVoucher") > 0, tally.summary()
    assert Hold.objects.filter(status=Hold.Status.CAPTURED).exists()
    assert Hold.objects.filter(status=Hold.Status.RELEASED).exists()
    assert Redemption.objects.filter(hold__isnull=False).exists()
    assert Reversal.objects.exists()
