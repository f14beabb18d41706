"""The program admin: schedule inline validation, budget figures, projection, moves."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Membership
from programs.models import PhaseStep, Program
from programs.selectors import program_projection
from tests.programs.factories import ProgramFactory, with_schedule
from tests.vouchers.factories import client_for, official, reauthenticated, with_mfa

pytestmark = pytest.mark.django_db


def _post(program: Program, steps: list[tuple[str, str]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "district": program.district_id,
        "name": program.name,
        "name_en": program.name_en,
        "kind": program.kind,
        "unit": program.unit,
        "total_budget": "1000000",
        "per_enterprise_cap": "300000",
        "base_rate": "0.30",
        "application_opens_on": "2026-01-01",
        "application_closes_on": "2026-12-31",
        "payout_mode": program.payout_mode,
        "settlement_period": program.settlement_period,
        # The claim and agreement fields as the form offers them (their defaults).
        "claim_rounding": program.claim_rounding,
        "claim_priority": program.claim_priority,
        "claim_gpu_npu_only": "on",
        "claim_requires_assessment": "on",
        "agreement_targets": "[]",
        "agreement_term_months": "12",
        "clawback_rule": program.clawback_rule,
        "clawback_due_days": "30",
        "phase_steps-TOTAL_FORMS": str(len(steps)),
        "phase_steps-INITIAL_FORMS": "0",
        "phase_steps-MIN_NUM_FORMS": "0",
        "phase_steps-MAX_NUM_FORMS": "1000",
    }
    for i, (day, rate) in enumerate(steps):
        data[f"phase_steps-{i}-starts_on"] = day
        data[f"phase_steps-{i}-rate"] = rate
    return data


@pytest.fixture
def manager(jianghan: Any) -> Any:
    return with_mfa(official(jianghan, Membership.Role.PROGRAM_MANAGER))


@pytest.fixture
def manager_client(manager: Any) -> Any:
    # Budgets and rates change only after a fresh re-authentication.
    return reauthenticated(client_for(manager), manager)


def test_a_rising_schedule_is_refused_with_a_clear_message(
    manager_client: Any, jianghan: Any
) -> None:
    program = ProgramFactory(draft=True, district=jianghan)
    response = manager_client.post(
        reverse("admin:programs_program_change", args=[program.pk]),
        _post(program, [("2027-01-01", "0.20"), ("2028-01-01", "0.25"), ("2029-01-01", "0")]),
    )
    assert response.status_code == 200
    assert "The rate may only go down" in response.content.decode()
    assert not PhaseStep.objects.filter(program=program).exists()


def test_a_schedule_without_exit_is_refused(manager_client: Any, jianghan: Any) -> None:
    program = ProgramFactory(draft=True, district=jianghan)
    response = manager_client.post(
        reverse("admin:programs_program_change", args=[program.pk]),
        _post(program, [("2027-01-01", "0.20")]),
    )
    assert "The schedule has no exit" in response.content.decode()


def test_a_good_schedule_is_saved(manager_client: Any, jianghan: Any) -> None:
    program = ProgramFactory(draft=True, district=jianghan)
    response = manager_client.post(
        reverse("admin:programs_program_change", args=[program.pk]),
        _post(program, [("2027-01-01", "0.20"), ("2028-01-01", "0.10"), ("2029-01-01", "0")]),
    )
    assert response.status_code == 302
    assert program.phase_steps.count() == 3


def test_the_change_page_shows_budget_figures_and_offers_only_allowed_moves(
    manager_client: Any, jianghan: Any
) -> None:
    program = with_schedule(ProgramFactory(draft=True, district=jianghan))
    body = manager_client.get(
        reverse("admin:programs_program_change", args=[program.pk])
    ).content.decode()
    assert "Reserved by approvals" in body
    assert reverse("admin:programs_program_move", args=[program.pk, "open"]) in body
    assert reverse("admin:programs_program_move", args=[program.pk, "pause"]) not in body
    response = manager_client.post(
        reverse("admin:programs_program_move", args=[program.pk, "open"])
    )
    assert response.status_code == 302
    program.refresh_from_db()
    assert program.status == Program.Status.OPEN


def test_a_reviewer_is_offered_no_moves(jianghan: Any) -> None:
    program = with_schedule(ProgramFactory(draft=True, district=jianghan))
    client = client_for(with_mfa(official(jianghan, Membership.Role.REVIEWER)))
    body = client.get(reverse("admin:programs_program_change", args=[program.pk])).content.decode()
    assert "programs_program_move" not in body
    assert reverse("admin:programs_program_move", args=[program.pk, "open"]) not in body
    response = client.post(reverse("admin:programs_program_move", args=[program.pk, "open"]))
    assert response.status_code == 403


def test_the_projection_follows_the_schedule_down_to_the_exit(jianghan: Any) -> None:
    program = ProgramFactory(
        draft=True,
        district=jianghan,
        base_rate=Decimal("0.30"),
        total_budget=Decimal("100000000"),
        application_opens_on=datetime.date(2026, 1, 1),
        application_closes_on=datetime.date(2026, 12, 31),
    )
    for day, rate in [("2026-01-01", "0.30"), ("2027-01-01", "0.15"), ("2028-01-01", "0")]:
        PhaseStep.objects.create(
            program=program, starts_on=datetime.date.fromisoformat(day), rate=Decimal(rate)
        )
    Program.objects.filter(pk=program.pk).update(reserved_amount=Decimal("365000"))
    program.refresh_from_db()
    daily, rows = program_projection(program=program, today=datetime.date(2026, 12, 31))
    # 365,000 over the 365 days of 2026: 1,000 a day at 30 %.
    assert daily == Decimal("1000.00")
    assert [row.year for row in rows] == [2027]
    # In 2027 the same demand at 15 % costs half as much: 500 a day.
    assert rows[0].cost == Decimal("182500.00")
    assert rows[0].average_rate == Decimal("0.1500")


def test_the_budget_cannot_drop_below_what_is_committed(manager_client: Any, jianghan: Any) -> None:
    program = ProgramFactory(draft=True, district=jianghan)
    Program.objects.filter(pk=program.pk).update(reserved_amount=Decimal("500000"))
    data = _post(program, [])
    data["total_budget"] = "400000"
    response = manager_client.post(
        reverse("admin:programs_program_change", args=[program.pk]), data
    )
    assert response.status_code == 200
    assert "500,000.00 is already committed" in response.content.decode()


def test_the_application_list_for_reviewers_has_a_fixed_query_count(
    jianghan: Any, django_assert_max_num_queries: Any
) -> None:
    from tests.accounts.factories import EnterpriseFactory
    from tests.applications.factories import application
    from tests.programs.factories import open_program

    program = open_program(district=jianghan)
    for _ in range(8):
        application(EnterpriseFactory(), program, status="submitted", with_document=False)
    client = client_for(with_mfa(official(jianghan, Membership.Role.REVIEWER)))
    with django_assert_max_num_queries(20):
        response = client.get(reverse("admin:applications_application_changelist"))
    assert response.status_code == 200
    assert response.content.decode().count("/change/") >= 8


def test_changing_the_budget_asks_for_the_password_again_and_loses_nothing(
    manager: Any, jianghan: Any
) -> None:
    manager.set_password("Voucher-Demo-2026")
    manager.save()
    program = ProgramFactory(draft=True, district=jianghan, total_budget=Decimal("1000000"))
    client = client_for(manager)  # signed in long ago: no fresh credential
    data = _post(program, [("2027-01-01", "0.20"), ("2028-01-01", "0.10"), ("2029-01-01", "0")])
    data["total_budget"] = "2000000"
    url = reverse("admin:programs_program_change", args=[program.pk])
    response = client.post(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    program.refresh_from_db()
    assert program.total_budget == Decimal("1000000")
    assert not PhaseStep.objects.filter(program=program).exists()

    # The password again: allauth replays the interrupted POST.
    again = client.post(response["Location"], {"password": "Voucher-Demo-2026"}, follow=False)
    assert again.status_code == 302, again.content.decode()[:2000]
    program.refresh_from_db()
    assert program.total_budget == Decimal("2000000")
    assert PhaseStep.objects.filter(program=program).count() == 3


def test_changing_only_the_name_needs_no_re_authentication(manager: Any, jianghan: Any) -> None:
    program = ProgramFactory(draft=True, district=jianghan, total_budget=Decimal("1000000"))
    data = _post(program, [])
    data["total_budget"] = "1000000.00"
    data["per_enterprise_cap"] = str(program.per_enterprise_cap)
    data["base_rate"] = str(program.base_rate)
    data["application_opens_on"] = str(program.application_opens_on)
    data["application_closes_on"] = str(program.application_closes_on)
    data["name"] = "江汉区算力券（更名）"
    response = client_for(manager).post(
        reverse("admin:programs_program_change", args=[program.pk]), data
    )
    assert response.status_code == 302
    assert not response["Location"].startswith(reverse("account_reauthenticate"))
    program.refresh_from_db()
    assert program.name == "江汉区算力券（更名）"


def test_unit_kind_and_district_are_fixed_once_a_voucher_exists(
    manager_client: Any, jianghan: Any
) -> None:
    from tests.vouchers.factories import issue

    program = ProgramFactory(district=jianghan)
    url = reverse("admin:programs_program_change", args=[program.pk])
    assert 'name="unit"' in manager_client.get(url).content.decode()
    issue(program, amount="100.00")
    assert 'name="unit"' not in manager_client.get(url).content.decode()
    data = _post(program, [])
    data.update(unit=Program.Unit.POINTS, kind=Program.Kind.TOKEN)
    response = manager_client.post(url, data)
    assert response.status_code == 302
    program.refresh_from_db()
    assert (program.unit, program.kind, program.district_id) == (
        Program.Unit.CNY,
        Program.Kind.COMPUTE,
        jianghan.pk,
    )
