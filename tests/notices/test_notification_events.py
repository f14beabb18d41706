"""Each event of an enterprise's applications, vouchers and claims: its
members get a notification and an e-mail in their own language, with the
right subject, code and link; another enterprise's people get nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Enterprise, User
from applications.models import Application
from applications.services import (
    application_approve,
    application_reject,
    application_return,
    application_submit,
)
from audit.services import Actor
from notices.models import Notification
from settlements import claims as claim_services
from settlements.models import Claim
from tests.accounts.factories import EnterpriseFactory
from tests.applications.factories import application
from tests.programs.factories import ProgramFactory
from tests.settlements import claim_factories
from tests.vouchers.factories import frozen, issue, member, shanghai
from vouchers.models import Voucher
from vouchers.periodic import voucher_reminders_send

pytestmark = pytest.mark.django_db

SITE = "https://vouchers.example.cn"
Kind = Notification.Kind


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = SITE


class Readers:
    """A Chinese reader with a name, an English reader without one, and a
    member of another enterprise."""

    def __init__(self, enterprise: Enterprise) -> None:
        self.enterprise = enterprise
        self.zh = member(
            enterprise, email="zh@example.com", preferred_language="zh-hans", full_name="王小明"
        )
        self.en = member(enterprise, email="en@example.com", preferred_language="en", full_name="")
        self.outsider = member(EnterpriseFactory(), email="other@example.com")

    def mails(self, needle: str) -> dict[str, Any]:
        """The e-mails whose subject holds ``needle``, by recipient."""
        found = [m for m in mail.outbox if needle in m.subject]
        by_recipient = {m.to[0]: m for m in found}
        assert len(by_recipient) == len(found), "one e-mail per reader"
        return by_recipient

    def check(self, kind: str, url: str, needle: str, zh: str, en: str) -> dict[str, Any]:
        """Both members are told of ``kind`` (linking ``url``) by an e-mail
        whose subject holds ``needle`` and reads ``zh`` / ``en``; the
        outsider is told nothing."""
        for user in (self.zh, self.en):
            notification = Notification.objects.get(recipient=user, kind=kind)
            assert notification.url == url
            assert notification.enterprise == self.enterprise
            assert notification.read_at is None and notification.emailed_at is not None
        assert not Notification.objects.filter(recipient=self.outsider).exists()
        mails = self.mails(needle)
        assert {"zh@example.com", "en@example.com"} <= set(mails)
        assert "other@example.com" not in {m.to[0] for m in mail.outbox}
        chinese, english = mails["zh@example.com"], mails["en@example.com"]
        assert zh in chinese.subject, chinese.subject
        assert en in english.subject, english.subject
        # The greeting names the person (or the company), never the address.
        assert chinese.body.startswith("尊敬的王小明：")
        assert english.body.startswith(f"Dear {self.enterprise.name},")
        for message in (chinese, english):
            assert SITE + url in message.body
            assert "@example.com" not in message.body.split("\n")[0]
            html, mimetype = message.alternatives[0]
            assert mimetype == "text/html" and SITE + url in html
        assert "算力券服务平台" in chinese.from_email
        assert "Compute Voucher Platform" in english.from_email
        assert "Compute Voucher Platform" in english.body and "算力券服务平台" in chinese.body
        return mails


def _run(capture: Any, step: Callable[[], Any]) -> Any:
    with capture(execute=True):
        return step()


# -- applications ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "act", "kind", "zh", "en"),
    [
        (Application.Status.DRAFT, "submit", Kind.APPLICATION_SUBMITTED, "已收到", "received"),
        (Application.Status.UNDER_REVIEW, "approve", Kind.APPLICATION_APPROVED, "批准", "approved"),
        (
            Application.Status.UNDER_REVIEW,
            "reject",
            Kind.APPLICATION_REJECTED,
            "未",
            "not approved",
        ),
        (
            Application.Status.UNDER_REVIEW,
            "return",
            Kind.APPLICATION_RETURNED,
            "修改",
            "needs changes",
        ),
    ],
)
def test_an_application_event_is_told_to_its_members_in_their_language(
    program: Any,
    enterprise: Any,
    reviewer: Any,
    django_capture_on_commit_callbacks: Any,
    status: str,
    act: str,
    kind: str,
    zh: str,
    en: str,
) -> None:
    readers = Readers(enterprise)
    app = application(enterprise, program, status=status, amount=Decimal("1000"))
    steps = {
        "submit": lambda: application_submit(actor=Actor.for_user(readers.en), application=app),
        "approve": lambda: application_approve(actor=Actor.for_user(reviewer), application=app),
        "reject": lambda: application_reject(
            actor=Actor.for_user(reviewer), application=app, note="不符合条件 / not eligible"
        ),
        "return": lambda: application_return(
            actor=Actor.for_user(reviewer), application=app, note="补充营业执照 / add the licence"
        ),
    }
    _run(django_capture_on_commit_callbacks, steps[act])
    url = reverse("application_detail", args=[app.pk])
    mails = readers.check(kind, url, f"#{app.pk}", zh, en)
    assert program.name in mails["zh@example.com"].body
    assert program.name_en in mails["en@example.com"].body
    assert program.name_en not in mails["zh@example.com"].body
    if act in ("reject", "return"):
        assert app.events.get(action={"reject": "rejected", "return": "returned"}[act]).note in (
            mails["en@example.com"].body
        )


def test_an_approved_application_brings_the_voucher_notice_with_its_code_and_certificate(
    program: Any, enterprise: Any, reviewer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    readers = Readers(enterprise)
    app = application(
        enterprise, program, status=Application.Status.UNDER_REVIEW, amount=Decimal("1000")
    )
    _run(
        django_capture_on_commit_callbacks,
        lambda: application_approve(actor=Actor.for_user(reviewer), application=app),
    )
    voucher = Voucher.objects.get(application=app)
    url = reverse("voucher_detail", args=[voucher.pk])
    mails = readers.check(Kind.VOUCHER_ISSUED, url, voucher.code, "已发放", "is issued")
    certificate = SITE + reverse("voucher_certificate", args=[voucher.pk])
    chinese, english = mails["zh@example.com"], mails["en@example.com"]
    for message, lang in ((chinese, "zh-hans"), (english, "en")):
        assert voucher.code in message.body
        assert f"{certificate}?lang={lang}" in message.body
        assert "¥1,000.00" in message.body
        assert f"{certificate}?lang={lang}" in message.alternatives[0][0]
    assert voucher.valid_until.isoformat() in english.body


def test_an_expiring_voucher_is_told_once_with_its_last_day(
    django_capture_on_commit_callbacks: Any,
) -> None:
    program = ProgramFactory(voucher_validity_days=60)
    enterprise = EnterpriseFactory(contact_email="")
    readers = Readers(enterprise)
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(program, enterprise)  # valid until 2026-07-30
    mail.outbox.clear()
    Notification.objects.all().delete()
    with frozen(shanghai(2026, 7, 2)), django_capture_on_commit_callbacks(execute=True):
        assert voucher_reminders_send() == 1
    url = reverse("voucher_detail", args=[voucher.pk])
    mails = readers.check(Kind.VOUCHER_EXPIRING, url, voucher.code, "2026-07-30", "expires after")
    assert "2026-07-30" in mails["zh@example.com"].body
    assert "valid until 2026-07-30" in mails["en@example.com"].body
    with frozen(shanghai(2026, 7, 3)), django_capture_on_commit_callbacks(execute=True):
        assert voucher_reminders_send() == 0
    assert Notification.objects.filter(kind=Kind.VOUCHER_EXPIRING).count() == 2


def test_a_voucher_notice_also_goes_to_the_contact_address_in_the_default_language(
    program: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.LANGUAGE_CODE = "zh-hans"  # the site's default (the tests' is English)
    enterprise = EnterpriseFactory(contact_email="office@example.com", contact_name="李经理")
    Readers(enterprise)
    with django_capture_on_commit_callbacks(execute=True):
        voucher = issue(program, enterprise, amount="500")
    to_contact = next(m for m in mail.outbox if m.to == ["office@example.com"])
    assert voucher.code in to_contact.subject and "已发放" in to_contact.subject
    assert to_contact.body.startswith("尊敬的李经理：")
    # Nobody reads the contact's copy in the portal.
    copy = Notification.objects.get(email="office@example.com")
    assert copy.recipient is None and copy.emailed_at is not None


# -- claims -----------------------------------------------------------------------------


@pytest.fixture
def claim_world() -> claim_factories.ClaimWorld:
    return claim_factories.build()


def _claim_readers(world: claim_factories.ClaimWorld) -> Readers:
    readers = Readers(world.enterprise)
    # The world's own administrator reads English; only the two readers are checked.
    return readers


def _submitted(world: claim_factories.ClaimWorld, capture: Any) -> Claim:
    return _run(capture, lambda: claim_factories.submitted(world))


def test_a_submitted_claim_is_told_to_its_members(
    claim_world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    readers = _claim_readers(claim_world)
    claim = _submitted(claim_world, django_capture_on_commit_callbacks)
    url = reverse("claim_detail", args=[claim.pk])
    mails = readers.check(Kind.CLAIM_SUBMITTED, url, f"#{claim.pk}", "已收到", "received")
    assert claim.contract.number in mails["en@example.com"].body
    assert "¥300,000.00" in mails["zh@example.com"].body


@pytest.mark.parametrize(
    ("act", "kind", "zh", "en"),
    [
        ("return", Kind.CLAIM_RETURNED, "需要修改", "needs changes"),
        ("reject", Kind.CLAIM_REJECTED, "未获通过", "was rejected"),
    ],
)
def test_a_returned_or_rejected_claim_is_told_with_the_reason(
    claim_world: Any, django_capture_on_commit_callbacks: Any, act: str, kind: str, zh: str, en: str
) -> None:
    readers = _claim_readers(claim_world)
    claim = _submitted(claim_world, django_capture_on_commit_callbacks)
    reviewer = claim_factories.actor(claim_world.reviewer)
    claim = claim_services.claim_start_check(actor=reviewer, claim=claim)
    step = claim_services.claim_return if act == "return" else claim_services.claim_reject
    mail.outbox.clear()
    _run(
        django_capture_on_commit_callbacks,
        lambda: step(actor=reviewer, claim=claim, reason="发票与合同不符 / invoice mismatch"),
    )
    mails = readers.check(kind, reverse("claim_detail", args=[claim.pk]), f"#{claim.pk}", zh, en)
    assert "发票与合同不符 / invoice mismatch" in mails["zh@example.com"].body


def test_an_approved_and_then_paid_claim_is_told_twice(
    claim_world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    readers = _claim_readers(claim_world)
    claim = _submitted(claim_world, django_capture_on_commit_callbacks)
    claim = claim_factories.to_finance(claim_world, claim)
    claim = claim_factories.approved(claim_world, claim)
    assert claim.status == Claim.Status.APPROVED
    # Only the final approval is news for the claimant, not the first of four eyes.
    assert Notification.objects.filter(recipient=readers.zh, kind=Kind.CLAIM_APPROVED).count() == 1
    mail.outbox.clear()
    url = reverse("claim_detail", args=[claim.pk])
    # The approval was not run under capture: deliver its e-mails as after the commit.
    from notices.services import notification_emails_send

    notification_emails_send(
        notification_ids=list(
            Notification.objects.filter(kind=Kind.CLAIM_APPROVED).values_list("pk", flat=True)
        )
    )
    mails = readers.check(Kind.CLAIM_APPROVED, url, f"#{claim.pk}", "已获批准", "approved")
    assert "¥300,000.00" in mails["en@example.com"].body
    assert "paid to the account" in mails["en@example.com"].body
    mail.outbox.clear()
    _run(django_capture_on_commit_callbacks, lambda: claim_factories.pay(claim_world, claim))
    mails = readers.check(Kind.CLAIM_PAID, url, f"#{claim.pk}", "已拨付", "paid")
    assert "¥300,000.00" in mails["zh@example.com"].body


def test_a_notification_is_e_mailed_once_however_often_its_task_runs(
    claim_world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from notices.tasks import send_notification_emails

    _claim_readers(claim_world)
    _submitted(claim_world, django_capture_on_commit_callbacks)
    sent = len(mail.outbox)
    ids = list(Notification.objects.values_list("pk", flat=True))
    assert send_notification_emails(ids) == 0
    assert len(mail.outbox) == sent


def test_nothing_is_told_or_sent_before_the_commit(
    claim_world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    readers = _claim_readers(claim_world)
    with django_capture_on_commit_callbacks(execute=False):
        claim_factories.submitted(claim_world)
    assert mail.outbox == []
    # The rows are written with the claim, their e-mails wait for the commit.
    assert Notification.objects.get(recipient=readers.zh).emailed_at is None


def test_members_of_another_enterprise_and_officials_are_not_told(
    claim_world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    readers = _claim_readers(claim_world)
    _submitted(claim_world, django_capture_on_commit_callbacks)
    told = set(Notification.objects.values_list("recipient", flat=True))
    assert told == set(
        User.objects.filter(memberships__enterprise=claim_world.enterprise).values_list(
            "pk", flat=True
        )
    )
    assert readers.outsider.pk not in told
    assert claim_world.reviewer.pk not in told
