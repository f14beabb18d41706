"""The program page an enterprise reads before applying: what the program
funds, its conditions with the enterprise's own result row by row, its rates
and phase-down, deadlines, platforms, and whether it may apply now."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import ComputePlatform
from applications.models import Application
from common import formatting
from programs.models import PhaseStep, Program
from tests.accounts.factories import EnterpriseFactory, UserFactory
from tests.applications.factories import application
from tests.eligibility.factories import rule_set
from tests.programs.factories import ProgramFactory, add_steps, bind
from tests.vouchers.factories import client_for, member

pytestmark = pytest.mark.django_db

RULE = {
    "all": [
        {"fact": "registered_division", "op": "within", "value": "420103"},
        {"fact": "headcount", "op": "gte", "value": "20"},
    ]
}


def _page(client: Client, program: Program) -> str:
    response = client.get(reverse("program_detail", args=[program.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def ruled(program: Program, jianghan: Any) -> Program:
    program.rule_set = rule_set(jianghan, RULE, "Jianghan rule")
    program.save()
    return program


def en_day(day: datetime.date) -> str:
    """A date as the English page writes it ("1 Mar 2026")."""
    with translation.override("en"):
        return formatting.date(day)


def test_an_enterprise_sees_its_own_result_row_by_row(ruled: Program) -> None:
    small = EnterpriseFactory(division="420103", headcount=3)
    body = _page(client_for(member(small)), ruled)
    assert "does not meet the conditions" in body
    assert "3 people" in body  # what was found for this enterprise
    assert "at least 20 people" in body  # what the rule requires
    assert body.count("✔ pass") == 1  # the division row
    assert body.count("✘ fail") == 2  # the headcount row and the group above it
    assert reverse("application_apply", args=[ruled.pk]) not in body
    assert "You can apply once every condition marked ✘ is met." in body


def test_an_eligible_enterprise_gets_the_apply_button(ruled: Program) -> None:
    big = EnterpriseFactory(division="420103", headcount=50)
    body = _page(client_for(member(big)), ruled)
    assert "meets the conditions" in body
    assert reverse("application_apply", args=[ruled.pk]) in body


def test_an_enterprise_with_an_application_is_sent_to_it_instead(
    program: Program, enterprise: Any, applicant: Any
) -> None:
    draft = application(enterprise=enterprise, program=program, status=Application.Status.DRAFT)
    body = _page(client_for(applicant), program)
    assert reverse("application_detail", args=[draft.pk]) in body
    assert reverse("application_apply", args=[program.pk]) not in body


def test_a_window_not_yet_open_says_when_it_opens(jianghan: Any, applicant: Any) -> None:
    opens = timezone.localdate() + datetime.timedelta(days=10)
    later = ProgramFactory(
        district=jianghan,
        application_opens_on=opens,
        application_closes_on=opens + datetime.timedelta(days=30),
    )
    body = _page(client_for(applicant), later)
    assert f"Applications open on {en_day(opens)}." in body
    assert reverse("application_apply", args=[later.pk]) not in body


def test_the_phase_down_steps_are_listed_with_their_dates(jianghan: Any) -> None:
    today = timezone.localdate()
    program = ProgramFactory(
        district=jianghan,
        base_rate=Decimal("0.40"),
        application_opens_on=today - datetime.timedelta(days=400),
    )
    step = today - datetime.timedelta(days=300)
    later = today + datetime.timedelta(days=100)
    exit_on = today + datetime.timedelta(days=500)
    add_steps(program, (step, "0.30"), (later, "0.15"), (exit_on, "0"))
    body = _page(Client(), program)
    # The base rate until the day before the first step, then each step to
    # the day before the next, then the exit.
    assert "40%" in body and "30%" in body and "15%" in body
    opens = program.application_opens_on
    for day in (opens, step - datetime.timedelta(days=1), step, later, exit_on):
        assert en_day(day) in body
    assert "Program ends" in body
    # The step in force today (a Shanghai date) is the one marked.
    assert '<tr class="current">' in body.replace("\n", "")
    current = body.split('<tr class="current">')[1].split("</tr>")[0]
    assert en_day(step) in current and "30%" in current


def test_anyone_may_read_a_published_program_with_a_sign_in_prompt(ruled: Program) -> None:
    bind(
        ruled,
        ComputePlatform.objects.create(
            slug="p-x", name="江汉平台", name_en="Han Cloud", operator="Han Co."
        ),
    )
    body = _page(Client(), ruled)
    assert ruled.display_name in body
    # The conditions as required, without anyone's result.
    assert "at least 20 people" in body
    assert "✘ fail" not in body and "✔ pass" not in body
    assert f"{reverse('account_login')}?next={reverse('program_detail', args=[ruled.pk])}" in body
    assert reverse("application_apply", args=[ruled.pk]) not in body
    assert "Han Cloud" in body


def test_a_signed_in_person_without_an_enterprise_is_asked_to_register(ruled: Program) -> None:
    client = Client()
    client.force_login(UserFactory())
    body = _page(client, ruled)
    assert reverse("enterprise_register") in body
    assert reverse("application_apply", args=[ruled.pk]) not in body


@pytest.mark.parametrize("who", ["anonymous", "enterprise"])
def test_a_draft_program_is_not_found(jianghan: Any, applicant: Any, who: str) -> None:
    draft = ProgramFactory(district=jianghan, draft=True)
    client = Client() if who == "anonymous" else client_for(applicant)
    assert client.get(reverse("program_detail", args=[draft.pk])).status_code == 404


def test_a_paused_program_is_shown_with_the_reason_it_takes_no_applications(
    program: Program, applicant: Any
) -> None:
    Program.objects.filter(pk=program.pk).update(status=Program.Status.PAUSED)
    program.refresh_from_db()
    body = _page(client_for(applicant), program)
    assert "paused this program" in body
    assert reverse("application_apply", args=[program.pk]) not in body


def test_the_program_list_links_each_program_to_its_page(program: Program, applicant: Any) -> None:
    for client in (client_for(applicant), Client()):
        response = client.get(reverse("program_list"))
        assert response.status_code == 200
        assert reverse("program_detail", args=[program.pk]) in response.content.decode()


def test_the_program_list_is_public_with_a_sign_in_prompt(program: Program) -> None:
    body = Client().get(reverse("program_list")).content.decode()
    assert program.display_name in body
    assert f"{reverse('account_login')}?next={reverse('program_list')}" in body


def test_the_header_programs_link_goes_to_the_program_list(program: Program) -> None:
    body = Client().get(reverse("program_detail", args=[program.pk])).content.decode()
    header = body.split('<nav class="site-nav"')[1].split("</nav>")[0]
    assert f'<a href="{reverse("program_list")}" aria-current="page">' in header
    home = Client().get(reverse("home")).content.decode()
    header = home.split('<nav class="site-nav"')[1].split("</nav>")[0]
    assert f'<a href="{reverse("program_list")}">' in header


def test_the_page_reads_a_bounded_number_of_queries(
    ruled: Program, applicant: Any, django_assert_max_num_queries: Any
) -> None:
    PhaseStep.objects.filter(program=ruled).delete()
    add_steps(
        ruled,
        (timezone.localdate(), "0.2"),
        (timezone.localdate() + datetime.timedelta(days=400), "0"),
    )
    client = client_for(applicant)
    with django_assert_max_num_queries(20):
        _page(client, ruled)
