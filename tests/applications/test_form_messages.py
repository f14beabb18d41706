"""Enterprise forms say what is wrong in plain words, in the program's terms,
not Django's stock "Ensure this value is less than or equal to 500000.00."."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from applications.forms import ApplicationForm
from eligibility.facts import get_fact
from eligibility.forms import EnterpriseRegistrationForm
from settlements.claim_forms import InvoiceForm
from settlements.models import Contract, ServiceKind
from tests.programs.factories import ProgramFactory

pytestmark = pytest.mark.django_db


def errors_of(form_class, data, language, **kwargs):
    with translation.override(language):
        form = form_class(data, **kwargs)
        form.is_valid()
        return {name: [str(e) for e in errs] for name, errs in form.errors.items()}


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-hans", "申请金额不能超过本项目每家企业上限 50 万元"),
        ("en", "The amount cannot exceed this program's cap per enterprise of ¥500,000."),
    ],
)
def test_an_amount_over_the_cap_names_the_programs_cap(language, message) -> None:
    program = ProgramFactory(per_enterprise_cap=Decimal("500000"))
    errors = errors_of(
        ApplicationForm,
        {"requested_amount": "500000.01", "purpose": "训练模型"},
        language,
        program=program,
    )
    [error] = errors["requested_amount"]
    assert error.startswith(message)
    assert "500000.00" not in error and "确保" not in error


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "The amount must be more than zero."),
        ("abc", "Enter the amount as a number, e.g. 50000 or 50000.00."),
        ("12.345", "Give the amount to the fen at most (two decimals)."),
        ("", "Enter the amount you apply for."),
    ],
)
def test_other_amount_mistakes_are_said_plainly(amount, message) -> None:
    program = ProgramFactory(per_enterprise_cap=Decimal("500000"))
    errors = errors_of(
        ApplicationForm, {"requested_amount": amount, "purpose": "x"}, "en", program=program
    )
    assert errors["requested_amount"] == [message]


def test_a_too_long_purpose_says_how_long_it_may_be() -> None:
    program = ProgramFactory()
    errors = errors_of(
        ApplicationForm,
        {"requested_amount": "10", "purpose": "x" * 5001},
        "en",
        program=program,
    )
    assert errors["purpose"] == [
        "The purpose can be at most 5,000 characters long; please shorten it (it has 5001)."
    ]


def test_negative_registration_figures_are_said_plainly() -> None:
    errors = errors_of(
        EnterpriseRegistrationForm,
        {"headcount": "-3", "prior_year_revenue": "-1", "local_tax_paid": "abc"},
        "en",
    )
    assert errors["headcount"] == ["The headcount cannot be negative."]
    assert errors["prior_year_revenue"] == [
        "The revenue cannot be negative; enter 0 if there was none."
    ]
    assert errors["local_tax_paid"] == ["Enter the tax paid in yuan as a number, e.g. 150000.00."]


def test_an_invoice_amount_mistake_is_said_plainly() -> None:
    errors = errors_of(
        InvoiceForm,
        {"invoice-number": "N1", "invoice-amount": "1.234", "invoice-issued_on": "2026-01-01"},
        "en",
        contract=Contract(service_kind=ServiceKind.choices[0][0]),
    )
    assert errors["amount"] == ["Give the amount to the fen at most (two decimals)."]


@pytest.mark.parametrize(
    ("count", "en", "zh"),
    [(1, "1 person", "1 人"), (20, "20 people", "20 人")],
)
def test_a_headcount_is_counted_in_the_right_number(count, en, zh) -> None:
    fact = get_fact("headcount")
    assert fact is not None
    with translation.override("en"):
        assert fact.show(Decimal(count)) == en
    with translation.override("zh-hans"):
        assert fact.show(Decimal(count)) == zh
