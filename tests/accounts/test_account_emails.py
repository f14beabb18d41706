"""allauth's e-mails (password reset, address confirmation) come from the
platform by name, in the recipient's language, greeting them by name."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from tests.accounts.factories import EnterpriseFactory, UserFactory
from tests.vouchers.factories import member

pytestmark = pytest.mark.django_db


def test_a_password_reset_reads_in_the_users_language_and_greets_them_by_name() -> None:
    user = UserFactory(full_name="王小明", preferred_language="zh-hans")
    Client().post("/accounts/password/reset/", {"email": user.email}, HTTP_ACCEPT_LANGUAGE="en")
    (message,) = mail.outbox
    assert message.body.startswith("尊敬的王小明：")
    assert user.email not in message.body
    assert "算力券服务平台" in message.from_email
    assert "127.0.0.1" not in message.subject and "Hello from" not in message.body
    assert "/accounts/password/reset/key/" in message.body


def test_without_a_name_the_greeting_names_the_enterprise_never_the_address() -> None:
    enterprise = EnterpriseFactory(name="武汉汉江智算科技有限公司")
    user = member(enterprise, full_name="", preferred_language="en")
    Client().post("/accounts/password/reset/", {"email": user.email})
    (message,) = mail.outbox
    assert message.body.startswith("Dear 武汉汉江智算科技有限公司,")
    assert "Compute Voucher Platform" in message.from_email and "Compute Voucher Platform" in (
        message.body
    )


def test_the_sign_up_confirmation_names_the_platform_not_the_host(settings: Any) -> None:
    client = Client()
    client.cookies["django_language"] = "zh-hans"
    client.post(
        "/accounts/signup/",
        {
            "email": "fresh@example.com",
            "password1": "Voucher-Pass-2026x",
            "password2": "Voucher-Pass-2026x",
        },
    )
    (message,) = mail.outbox
    assert message.body.startswith("您好：")
    assert "在算力券服务平台注册账号" in message.body
    assert "/accounts/confirm-email/" in message.body
    assert "testserver" not in message.body.split("\n")[2]
