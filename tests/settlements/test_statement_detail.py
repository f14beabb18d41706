"""The settlement statement's line detail and signature block (the PDF the
platform signs), and the compact tables of the operators' pages that must fit
a 1366-px screen without scrolling sideways."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from settlements.documents import statement_pdf
from settlements.statement_detail import settlement_statement_detail, usage_models
from tests.settlements.factories import SettleWorld, build, drawn, last_month_instant
from tests.settlements.test_operator_pages import (
    in_language,
    logged_in,
    needs_pdftotext,
    pdf_text,
    statement_url,
)
from tests.vouchers.factories import platform_actor
from vouchers.services import voucher_redeem

pytestmark = pytest.mark.django_db

LONG_MODEL = "DeepSeek-V3.1-Terminus-671B-Instruct-FP8-Long-Context-Edition"


def charge_with_usage(
    world: SettleWorld, *, reference: str, at: datetime.datetime, model: str
) -> None:
    with time_machine.travel(at, tick=False):
        voucher_redeem(
            actor=platform_actor(world.platform),
            platform=world.platform,
            voucher_code=world.voucher.code,
            reference=reference,
            occurred_at=at,
            billed_amount=Decimal("100.00"),
            usage=[{"model": model, "input_tokens": 1000, "output_tokens": 500}],
        )


def three_charges() -> SettleWorld:
    """Last month: two charges of one model an hour apart, one of another model a day later."""
    world = build()
    at = last_month_instant()
    charge_with_usage(world, reference="job-a-1", at=at, model=LONG_MODEL)
    charge_with_usage(
        world, reference="job-a-2", at=at + datetime.timedelta(minutes=5), model=LONG_MODEL
    )
    charge_with_usage(
        world, reference="job-b-1", at=at + datetime.timedelta(days=1), model="Kimi-K2.5"
    )
    return world


def wrapped_cell(text: str, value: str) -> str:
    """The pieces of ``value`` that its cell wrapped over several lines, joined
    again (pdftotext puts the other columns' text between them)."""
    return "".join(word for word in text.split() if len(word) >= 5 and word in value)


def test_usage_models_names_each_model_once_in_order() -> None:
    usage = [{"model": "B"}, {"model": "A"}, {"model": "B"}, {"tokens": 3}, "junk"]
    assert usage_models(usage) == "B, A"
    assert usage_models(None) == ""


def test_a_short_settlement_lists_every_line_with_its_model() -> None:
    world = three_charges()
    detail = settlement_statement_detail(drawn(world))
    assert not detail.summarised
    assert [line.reference for line in detail.lines] == ["job-a-1", "job-a-2", "job-b-1"]
    assert [line.models for line in detail.lines] == [LONG_MODEL, LONG_MODEL, "Kimi-K2.5"]


def test_a_long_settlement_is_summed_per_day_and_model() -> None:
    world = three_charges()
    settlement = drawn(world)
    detail = settlement_statement_detail(settlement, limit=2)
    assert detail.summarised and not detail.lines
    at = timezone.localtime(last_month_instant())
    groups = [(g.day, g.model, g.charges, g.covered) for g in detail.by_day_model]
    covered = settlement.covered / 3  # three equal charges
    assert groups == [
        (at.date(), LONG_MODEL, 2, covered * 2),
        (at.date() + datetime.timedelta(days=1), "Kimi-K2.5", 1, covered),
    ]
    assert sum(g.net for g in detail.by_day_model) == settlement.amount_due


@needs_pdftotext
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_statement_pdf_lists_each_line_and_has_signature_and_seal_lines(
    language: str, tmp_path: Any
) -> None:
    world = three_charges()
    settlement = drawn(world)
    response = logged_in(world.operator).get(statement_url(world, settlement, language))
    assert response.status_code == 200
    text = pdf_text(response.content, tmp_path)
    flat = "".join(text.split())  # long references and models wrap in their cells
    for reference in ("job-a-1", "job-a-2", "job-b-1"):
        assert reference in flat, reference
    assert LONG_MODEL in wrapped_cell(text, LONG_MODEL)
    assert "Kimi-K2.5" in flat
    for label in ("Lines", "Model", "Signatures", "For the platform", "Reviewer"):
        assert in_language(language, label) in text, label
    for label in ("Finance officer", "Name", "Date", "Signature", "Seal"):
        assert in_language(language, label) in text, label
    assert text.count(in_language(language, "Seal")) == 2  # the platform's and the district's


@needs_pdftotext
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_long_statement_pdf_sums_its_lines_per_day_and_model(
    language: str, tmp_path: Any
) -> None:
    world = three_charges()
    text = pdf_text(statement_pdf(drawn(world), language=language, line_limit=2), tmp_path)
    flat = "".join(text.split())
    assert in_language(language, "Lines per day and model") in text
    assert LONG_MODEL in wrapped_cell(text, LONG_MODEL)
    assert "Kimi-K2.5" in flat
    assert "job-a-1" not in flat  # summed, not listed
    assert in_language(language, "Seal") in text


def test_the_platform_page_tables_are_compact_with_abbreviated_headers() -> None:
    world = three_charges()
    response = logged_in(world.operator).get(
        reverse("operator_platform", args=[world.platform.slug])
    )
    html = response.content.decode()
    assert html.count('class="ledger fit compact') >= 4
    assert f'<abbr title="{in_language("en", "Owed to the platform")}">' in html
    assert f'<abbr title="{in_language("en", "Reversed")}">' in html
    assert "css/operator.css" in html


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_month_statement_page_loads_the_compact_table_styles(language: str) -> None:
    world = three_charges()
    month = timezone.localtime(last_month_instant()).strftime("%Y-%m")
    url = reverse("operator_settlement", args=[world.platform.slug, month, "html"])
    response = logged_in(world.operator).get(url, HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert "css/operator.css" in html
    assert 'class="ledger fit compact settlement-table"' in html
    assert f'<abbr title="{in_language(language, "Owed to the platform")}">' in html
    assert "job-a-1" not in html  # the month's page sums per program


def test_the_month_statement_pdf_keeps_the_full_header() -> None:
    world = three_charges()
    month = timezone.localtime(last_month_instant()).strftime("%Y-%m")
    from django.template.loader import render_to_string

    from platforms.selectors import settlement_statement

    html = render_to_string(
        "pdf/settlement.html",
        {
            "platform": world.platform,
            "settlement": settlement_statement(
                platform=world.platform,
                month=timezone.localtime(last_month_instant()).date().replace(day=1),
            ),
            "month": month,
            "printed_at": timezone.localtime(),
            "language": "en",
        },
    )
    assert "Owed to the platform" in html
    assert "<abbr" not in html
