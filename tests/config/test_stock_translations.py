"""allauth's and Django's Chinese on the pages our users see, in the site's
words (config/i18n_strings.py): 账号, 电子邮箱, 验证码 — never 帐户, Email
地址 or "错误代码。" for a wrong TOTP code."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import strip_tags

from tests.accounts.factories import PASSWORD, add_totp
from tests.world import World, build_world

pytestmark = pytest.mark.django_db

# What allauth's or Django's stock Chinese says that ours does not.
STOCK_WORDING = re.compile(r"帐|账户|Email|电子邮件地址|错误代码|认证APP|token")


@pytest.fixture
def world() -> World:
    return build_world()


def text_of(response: object) -> str:
    html = response.content.decode()  # type: ignore[attr-defined]
    body = html[html.index("<body") :]
    return " ".join(strip_tags(body).split())


def zh_client() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="zh-hans")


@pytest.mark.parametrize(
    ("url_name", "expected"),
    [
        ("account_login", "电子邮箱"),
        ("account_signup", "密码（再次输入）"),
        ("account_reset_password", "忘记密码？请在下方输入您的电子邮箱"),
    ],
)
def test_the_entrance_pages_read_in_the_sites_chinese(url_name: str, expected: str) -> None:
    response = zh_client().get(reverse(url_name))
    assert response.status_code == 200
    text = text_of(response)
    assert expected in text
    assert not STOCK_WORDING.search(text), STOCK_WORDING.search(text)


def test_the_password_help_on_sign_up_says_nin_like_the_rest_of_the_site() -> None:
    text = text_of(zh_client().get(reverse("account_signup")))
    assert "您的密码至少须包含 8 个字符。" in text
    assert "你的" not in text


def test_an_expired_confirmation_link_reads_in_the_sites_chinese() -> None:
    response = zh_client().get(reverse("account_confirm_email", args=["no-such-key"]))
    text = text_of(response)
    assert "确认电子邮箱" in text
    assert "此邮箱确认链接已过期或无效" in text
    assert not STOCK_WORDING.search(text)


def test_a_wrong_totp_code_says_the_code_is_incorrect(world: World) -> None:
    add_totp(world.official_x)
    client = zh_client()
    response = client.post(
        reverse("account_login"), {"login": world.official_x.email, "password": PASSWORD}
    )
    assert response["Location"] == reverse("mfa_authenticate")
    page = client.get(reverse("mfa_authenticate"))
    assert "您的账号已启用双因素身份认证" in text_of(page)
    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    text = text_of(response)
    assert "验证码不正确。" in text
    assert not STOCK_WORDING.search(text)


def test_the_totp_set_up_reads_in_the_sites_chinese(world: World) -> None:
    client = zh_client()
    client.post(reverse("account_login"), {"login": world.official_x.email, "password": PASSWORD})
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    text = text_of(response)
    assert "启用身份验证器应用" in text
    assert "验证码" in text
    assert not STOCK_WORDING.search(text)


def test_a_wrong_password_names_the_email_the_sites_way(world: World) -> None:
    response = zh_client().post(
        reverse("account_login"), {"login": world.ent_admin_x.email, "password": "wrong"}
    )
    assert "电子邮箱或密码不正确。" in text_of(response)


def test_english_keeps_allauths_own_words() -> None:
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get(reverse("account_reset_password"))
    assert "Forgotten your password? Enter your email address below" in text_of(response)
