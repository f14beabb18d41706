"""Sign up → verify the e-mail address → register the enterprise, through the
test client, as a new enterprise user does it."""

from __future__ import annotations

import datetime
import html
import re
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import Enterprise, Membership, User
from accounts.uscc import uscc_problem
from audit import events
from audit.models import AuditEvent
from common.errors import BusinessError
from tests.accounts.factories import PASSWORD as FACTORY_PASSWORD
from tests.accounts.factories import UserFactory, make_uscc

pytestmark = pytest.mark.django_db

XIAOMI = "91110108551385082Q"
JIANGHAN_CODE = make_uscc("420103", 4242)
PASSWORD = "Sturdy-Voucher-Pass-91"


def enterprise_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "武汉江汉示例智能科技有限公司",
        "uscc": JIANGHAN_CODE,
        "legal_representative": "陈明",
        "contact_name": "周婷",
        "contact_phone": "027-8888-0001",
        "contact_email": "contact@example-ai.com",
        "address": "武汉市江汉区建设大道568号",
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": "2021-05-20",
        "headcount": "23",
        "prior_year_revenue": "5600000.00",
        "local_tax_paid": "210000.00",
    }
    data.update(overrides)
    return data


def field_block(page: str, name: str) -> str:
    """The HTML of one field's wrapper, from its ``<div class="field`` to the
    next one: where its label, input and errors are."""
    start = page.index(f'name="{name}"')
    begin = page.rindex('<div class="field', 0, start)
    nxt = page.find('<div class="field', start)
    return page[begin : nxt if nxt != -1 else len(page)]


def sign_up_and_verify(client: Client, email: str) -> Any:
    """Sign up, follow the link of the verification e-mail; return the last response."""
    response = client.post(
        reverse("account_signup"),
        {"email": email, "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session  # not signed in before verifying

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [email]
    links = re.findall(r"https?://[^\s\"'<>]+/accounts/confirm-email/[^\s\"'<>]+", message.body)
    assert links, message.body
    confirm_path = "/" + links[0].split("/", 3)[3]

    page = client.get(confirm_path)
    assert page.status_code == 200
    return client.post(confirm_path, follow=True)


def test_sign_up_verify_and_register_an_enterprise() -> None:
    client = Client()
    email = "founder@example-ai.com"
    response = sign_up_and_verify(client, email)

    # Verified and signed in, and walked to "register your enterprise".
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == reverse("enterprise_register")
    user = User.objects.get(email=email)
    assert user.emailaddress_set.get(email=email).verified
    assert client.session["_auth_user_id"] == str(user.pk)
    assert not user.memberships.exists()

    # A bad code: a clear message next to the field, and nothing typed lost.
    typo = JIANGHAN_CODE[:10] + ("1" if JIANGHAN_CODE[10] != "1" else "2") + JIANGHAN_CODE[11:]
    response = client.post(reverse("enterprise_register"), enterprise_data(uscc=typo))
    assert response.status_code == 200
    page = response.content.decode()
    expected = uscc_problem(typo)
    assert expected is not None
    assert expected.startswith("The check character does not match")
    assert html.escape(expected) in field_block(page, "uscc")
    assert response.context["form"].errors["uscc"] == [expected]
    for key, value in enterprise_data(uscc=typo).items():
        if key == "industry":
            assert re.search(rf'<option value="{value}"[^>]*selected', page), key
        else:
            assert f'value="{html.escape(value)}"' in page, (key, value)
    assert not Enterprise.objects.exists()

    # A valid code, typed with spaces and in lower case.
    typed = " ".join(JIANGHAN_CODE[i : i + 4] for i in range(0, 18, 4)).lower()
    response = client.post(reverse("enterprise_register"), enterprise_data(uscc=typed), follow=True)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == reverse("portal")
    enterprise = Enterprise.objects.get()
    assert enterprise.uscc == JIANGHAN_CODE
    assert enterprise.division_code == "420103"
    assert enterprise.status == Enterprise.Status.PENDING
    page = response.content.decode()
    assert enterprise.name in page
    assert JIANGHAN_CODE in page

    membership = Membership.objects.get(user=user)
    assert membership.role == Membership.Role.ENTERPRISE_ADMIN
    assert membership.enterprise == enterprise

    event = AuditEvent.objects.get(event_type=events.ENTERPRISE_REGISTERED)
    assert event.actor_user_id == user.pk
    assert event.object_id == str(enterprise.pk)
    assert event.enterprise_id == enterprise.pk
    assert event.after == {"name": enterprise.name, "uscc": JIANGHAN_CODE}

    # Registered: the form now sends them to their portal.
    again = client.get(reverse("enterprise_register"))
    assert again.status_code == 302
    assert again["Location"] == reverse("portal")


def test_a_second_registration_of_the_same_uscc_is_refused() -> None:
    first, second = Client(), Client()
    first.force_login(UserFactory(email="first@example.com"))
    response = first.post(reverse("enterprise_register"), enterprise_data(uscc=XIAOMI))
    assert response.status_code == 302

    other = UserFactory(email="second@example.com")
    second.force_login(other)
    response = second.post(
        reverse("enterprise_register"), enterprise_data(uscc=XIAOMI.lower(), name="冒名公司")
    )
    assert response.status_code == 200
    message = (
        "An enterprise with this Unified Social Credit Code is already registered. "
        "Ask its administrator to add you as a member."
    )
    assert response.context["form"].errors["uscc"] == [message]
    assert html.escape(message) in field_block(response.content.decode(), "uscc")
    assert 'value="冒名公司"' in response.content.decode()
    assert Enterprise.objects.count() == 1
    assert Enterprise.objects.get().name == enterprise_data()["name"]
    assert not other.memberships.exists()
    assert AuditEvent.objects.filter(event_type=events.ENTERPRISE_REGISTERED).count() == 1


@pytest.mark.parametrize(
    ("typed", "start"),
    [
        ("9111010855138508", "A Unified Social Credit Code has 18 characters"),
        ("91110108551385O82Q", "A Unified Social Credit Code uses only digits"),
        ("B1110108551385082Q", "The first character (B)"),
        ("91110108551385082R", "The check character does not match"),
        ("91999999MA4K3Q7R53", "Characters 3 to 8 (999999) are not the code of any"),
    ],
)
def test_each_bad_code_gets_its_own_message_beside_the_field(typed: str, start: str) -> None:
    client = Client()
    client.force_login(UserFactory())
    response = client.post(reverse("enterprise_register"), enterprise_data(uscc=typed))
    assert response.status_code == 200
    errors = response.context["form"].errors["uscc"]
    assert len(errors) == 1
    assert errors[0].startswith(start)
    block = field_block(response.content.decode(), "uscc")
    assert html.escape(errors[0]) in block
    assert 'class="field-error"' in block
    assert f'value="{typed}"' in block


def test_the_uscc_message_is_in_chinese_for_a_chinese_browser() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(UserFactory())
    typo = "91110108551385082R"
    response = client.post(reverse("enterprise_register"), enterprise_data(uscc=typo))
    assert response.status_code == 200
    errors = response.context["form"].errors["uscc"]
    with translation.override("zh-hans"):
        chinese = uscc_problem(typo)
        title = gettext("Register your enterprise")
    assert chinese is not None
    assert re.search(r"[\u4e00-\u9fff]", chinese), "no Chinese catalog is compiled"
    assert errors == [chinese]
    page = response.content.decode()
    assert html.escape(chinese) in field_block(page, "uscc")
    assert title in page
    assert f'value="{typo}"' in page


def test_the_language_cookie_chooses_chinese_too() -> None:
    client = Client()
    client.cookies["django_language"] = "zh-hans"
    client.force_login(UserFactory())
    response = client.post(reverse("enterprise_register"), enterprise_data(uscc="9111"))
    with translation.override("zh-hans"):
        chinese = uscc_problem("9111")
    with translation.override("en"):
        english = uscc_problem("9111")
    assert response.context["form"].errors["uscc"] == [chinese]
    assert chinese != english


def test_the_uscc_message_is_in_english_for_an_english_browser() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(UserFactory())
    response = client.post(reverse("enterprise_register"), enterprise_data(uscc="9111"))
    assert response.context["form"].errors["uscc"] == [
        "A Unified Social Credit Code has 18 characters; this one has 4."
    ]


def test_missing_fields_are_reported_and_nothing_is_created() -> None:
    client = Client()
    client.force_login(UserFactory())
    response = client.post(reverse("enterprise_register"), enterprise_data(name="", headcount=""))
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"name", "headcount"}
    assert not Enterprise.objects.exists()


def test_a_future_founding_date_is_refused() -> None:
    client = Client()
    client.force_login(UserFactory())
    response = client.post(reverse("enterprise_register"), enterprise_data(founded_on="2999-01-01"))
    assert response.context["form"].errors["founded_on"] == [
        "The founding date cannot be in the future."
    ]


def test_negative_amounts_are_refused() -> None:
    client = Client()
    client.force_login(UserFactory())
    response = client.post(reverse("enterprise_register"), enterprise_data(prior_year_revenue="-1"))
    assert "prior_year_revenue" in response.context["form"].errors
    assert not Enterprise.objects.exists()


def test_registration_needs_a_signed_in_user() -> None:
    response = Client().get(reverse("enterprise_register"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_portal_sends_a_user_without_an_organisation_to_registration() -> None:
    client = Client()
    client.force_login(UserFactory())
    response = client.get(reverse("portal"))
    assert response.status_code == 302
    assert response["Location"] == reverse("enterprise_register")


def test_signing_in_without_an_organisation_lands_on_registration() -> None:
    user = UserFactory(email="newcomer@example.com")
    response = Client().post(
        reverse("account_login"), {"login": user.email, "password": FACTORY_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("enterprise_register")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_registrations_of_one_uscc_give_one_enterprise_and_a_clear_refusal() -> (
    None
):
    """The second registration must get the "already registered" message even
    when the first has not committed yet when it checks: not a database error."""
    from audit.services import Actor
    from eligibility.services import enterprise_register

    first_user = UserFactory(email="race-1@example.com")
    second_user = UserFactory(email="race-2@example.com")
    fields = {
        k: v
        for k, v in enterprise_data(uscc=XIAOMI).items()
        if k not in {"founded_on", "headcount", "prior_year_revenue", "local_tax_paid"}
    }
    fields.update(
        founded_on=datetime.date(2021, 5, 20),
        headcount=23,
        prior_year_revenue=Decimal("5600000"),
        local_tax_paid=Decimal("210000"),
    )
    first_inside = threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                enterprise_register(actor=Actor.for_user(first_user), user=first_user, **fields)
                first_inside.set()
                # Hold the transaction open while the second one checks.
                time.sleep(1.0)
            outcome["first"] = "registered"
        except Exception as exc:  # the outcome is asserted below
            outcome["first"] = exc
        finally:
            first_inside.set()
            connection.close()

    def second() -> None:
        first_inside.wait(10)
        try:
            enterprise_register(actor=Actor.for_user(second_user), user=second_user, **fields)
            outcome["second"] = "registered"
        except Exception as exc:  # the outcome is asserted below
            outcome["second"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcome["first"] == "registered"
    refusal = outcome["second"]
    assert isinstance(refusal, BusinessError), repr(refusal)
    assert refusal.field == "uscc"
    assert "already registered" in str(refusal.message)
    assert Enterprise.objects.filter(uscc=XIAOMI).count() == 1
    assert not Membership.objects.filter(user=second_user).exists()


def test_signing_up_in_chinese_remembers_the_language_and_writes_in_chinese() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    response = client.post(
        reverse("account_signup"),
        {"email": "zh@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert User.objects.get(email="zh@example.com").preferred_language == "zh-hans"
    assert re.search(r"[\u4e00-\u9fff]", mail.outbox[0].subject), mail.outbox[0].subject


def test_signing_up_in_english_remembers_english() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.post(
        reverse("account_signup"),
        {"email": "en@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert User.objects.get(email="en@example.com").preferred_language == "en"
    assert not re.search(r"[\u4e00-\u9fff]", mail.outbox[0].subject)


def test_signing_up_with_a_taken_address_does_not_reveal_it_and_creates_nobody() -> None:
    owner = UserFactory(email="taken@example.com")
    response = Client().post(
        reverse("account_signup"),
        {"email": "taken@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    # allauth's enumeration prevention: the same answer as a new sign-up, and
    # a note to the address's owner instead of a verification link.
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert User.objects.filter(email="taken@example.com").count() == 1
    owner.refresh_from_db()
    assert owner.check_password(FACTORY_PASSWORD)
    assert len(mail.outbox) == 1
    assert "/accounts/confirm-email/" not in mail.outbox[0].body


def test_a_weak_password_is_refused_at_sign_up_and_the_address_kept() -> None:
    client = Client()
    response = client.post(
        reverse("account_signup"),
        {"email": "weak@example.com", "password1": "12345678", "password2": "12345678"},
    )
    assert response.status_code == 200
    assert "password1" in response.context["form"].errors
    assert 'value="weak@example.com"' in response.content.decode()
    assert not User.objects.filter(email="weak@example.com").exists()


# --- the rest of the account life: sign-in, reset, language ------------------------


def test_an_unverified_address_cannot_sign_in_until_verified() -> None:
    client = Client()
    client.post(
        reverse("account_signup"),
        {"email": "later@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    mail.outbox.clear()
    response = client.post(
        reverse("account_login"), {"login": "later@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("portal")).status_code == 302


def test_password_reset_by_e_mail() -> None:
    user = UserFactory(email="forgetful@example.com")
    client = Client()
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    links = re.findall(
        r"https?://[^\s\"'<>]+/accounts/password/reset/key/[^\s\"'<>]+", mail.outbox[0].body
    )
    assert links, mail.outbox[0].body
    reset_path = "/" + links[0].split("/", 3)[3]
    page = client.get(reset_path, follow=True)
    assert page.status_code == 200
    form_path = page.redirect_chain[-1][0] if page.redirect_chain else reset_path
    new_password = "Another-Long-Passphrase-58"
    response = client.post(form_path, {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)


def test_a_reset_request_for_an_unknown_address_reveals_nothing() -> None:
    response = Client().post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")


def test_sign_ins_and_failed_sign_ins_are_audited() -> None:
    user = UserFactory(email="audited@example.com")
    client = Client()
    client.post(reverse("account_login"), {"login": user.email, "password": "wrong-password"})
    failed = AuditEvent.objects.filter(event_type=events.USER_LOGIN_FAILED)
    assert failed.count() == 1
    assert failed.get().actor_label == user.email
    client.post(reverse("account_login"), {"login": user.email, "password": FACTORY_PASSWORD})
    ok = AuditEvent.objects.get(event_type=events.USER_LOGGED_IN)
    assert ok.actor_user_id == user.pk


def test_the_language_switcher_changes_the_pages_language() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = client.get("/").content.decode()
    assert '<html lang="zh-hans"' in page
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert '<html lang="en"' in page
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert '<html lang="zh-hans"' in client.get("/").content.decode()
