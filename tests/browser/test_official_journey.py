"""The district official's journey in the admin, once in zh-Hans and once in English.

Two-factor sign-in, the admin index (and the dashboard when it is there), the
review of an application above the four-eyes threshold (start the review,
first approval, a second official's confirmation), and suspending a voucher.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import translation
from django.utils.translation import gettext

from demo.seed import ENTERPRISES
from tests.browser.conftest import MINIMAL_PDF, OFFICIAL_1, OFFICIAL_2, Journey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGS = ["zh-hans", "en"]
USCC = {e["key"]: e["uscc"] for e in ENTERPRISES}
SUBMIT = ".submit-row input[type=submit]"


def in_lang(lang: str, text: Any) -> str:
    with translation.override(lang):
        return gettext(text) if isinstance(text, str) else str(text)


def submitted_application(amount: Decimal) -> Any:
    """Jianghan Ciyuan's application to Jianghan's compute vouchers, submitted
    through the services as the enterprise would."""
    from accounts.models import Enterprise
    from applications.services import (
        application_document_add,
        application_save_draft,
        application_submit,
    )
    from audit.services import Actor
    from programs.models import Program

    enterprise = Enterprise.objects.get(uscc=USCC["jianghan-ciyuan"])
    program = Program.objects.get(name_en__startswith="Jianghan Compute")
    assert amount > program.four_eyes_threshold, "the journey needs the four-eyes rule"
    user = enterprise.memberships.get().user
    actor = Actor.for_user(user)
    application = application_save_draft(
        actor=actor,
        enterprise=enterprise,
        program=program,
        requested_amount=amount,
        purpose="训练城市热线方言语音模型，使用武汉人工智能计算中心算力。",
    )
    application_document_add(
        actor=actor,
        application=application,
        upload=ContentFile(MINIMAL_PDF, name="compute-contract.pdf"),
    )
    return application_submit(actor=actor, application=application)


def record(page: Any, action: str) -> None:
    """Choose a review action and record it; the page reloads on the review."""
    page.check(f"input[name=action][value={action}]")
    with page.expect_navigation():
        page.click(SUBMIT)


@pytest.mark.parametrize("lang", LANGS)
def test_official_journey(journey: Journey, lang: str) -> None:
    from playwright.sync_api import expect

    from vouchers.models import Voucher

    application = submitted_application(Decimal("300000.00"))
    status = application.Status
    review_url = journey.url(f"/admin/applications/application/{application.pk}/change/")
    status_cell = ".review .status"

    # 1. Two-factor sign-in lands on the admin index.
    official = journey.new_page()
    journey.login(official, OFFICIAL_1, code=True)
    official.wait_for_url("**/admin/")
    expect(official.locator("html")).to_have_attribute("lang", lang)
    expect(official.locator("#content-main")).to_be_visible()
    expect(
        official.locator("#content-main a[href$='/admin/applications/application/']").first
    ).to_be_visible()
    journey.shot(official, "admin-index")

    # 2. The dashboard, when this checkout has one.
    response = official.goto(journey.url("/admin/dashboard/"))
    assert response is not None
    if response.status == 404:
        print("no admin dashboard at /admin/dashboard/: step skipped")
    else:
        assert response.status == 200, response.status
        assert official.url.endswith("/admin/dashboard/"), official.url
        expect(official.locator("#content")).to_be_visible()
        journey.shot(official, "dashboard")

    # 3. The first official starts the review.
    official.goto(review_url)
    expect(official.locator(status_cell)).to_have_text(in_lang(lang, status.SUBMITTED.label))
    journey.shot(official, "review-submitted")
    record(official, "start_review")
    application.refresh_from_db()
    assert application.status == status.UNDER_REVIEW
    expect(official.locator(status_cell)).to_have_text(in_lang(lang, status.UNDER_REVIEW.label))
    journey.shot(official, "under-review")

    # 4. ... and gives the first of two approvals (300,000 > the 250,000 threshold).
    record(official, "approve_first")
    application.refresh_from_db()
    assert application.status == status.AWAITING_SECOND_APPROVAL
    assert application.first_approved_by is not None
    assert application.first_approved_by.email == OFFICIAL_1
    expect(official.locator(status_cell)).to_have_text(
        in_lang(lang, status.AWAITING_SECOND_APPROVAL.label)
    )
    # The first approver may not also give the second approval.
    expect(official.locator("input[name=action][value=approve_second]")).to_have_count(0)
    journey.shot(official, "first-approval")

    # 5. A second official confirms it.
    second = journey.new_page()
    journey.login(second, OFFICIAL_2, code=True)
    second.wait_for_url("**/admin/")
    second.goto(review_url)
    record(second, "approve_second")
    application.refresh_from_db()
    assert application.status == status.APPROVED
    assert application.approved_amount == Decimal("300000.00")
    expect(second.locator(status_cell)).to_have_text(in_lang(lang, status.APPROVED.label))
    journey.shot(second, "second-approval")

    # 6. The first official suspends Hanjiang's active compute voucher.
    voucher = (
        Voucher.objects.filter(
            enterprise__uscc=USCC["hanjiang"],
            program__name_en__startswith="Jianghan Compute",
            status=Voucher.Status.ACTIVE,
        )
        .order_by("pk")
        .first()
    )
    assert voucher is not None, "the demo seed has no active Jianghan compute voucher"
    change_url = journey.url(f"/admin/vouchers/voucher/{voucher.pk}/change/")
    official.goto(change_url)
    expect(official.get_by_text(voucher.code).first).to_be_visible()
    journey.shot(official, "voucher")
    with official.expect_navigation():
        official.click(f"a[href$='/admin/vouchers/voucher/{voucher.pk}/act/suspend/']")
    official.fill("textarea[name=reason]", "核查异常用量 / Checking unusual usage.")
    journey.shot(official, "suspend-form")
    with official.expect_navigation():
        official.click(SUBMIT)
    official.wait_for_url(change_url)
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.SUSPENDED
    expect(official.locator(".messagelist .success")).to_contain_text(voucher.code)
    expect(
        official.locator("#content-main").get_by_text(
            in_lang(lang, Voucher.Status.SUSPENDED.label), exact=True
        )
    ).to_be_visible()
    journey.shot(official, "voucher-suspended")
