"""Error pages (config/errors.py): the site's look and the request's language,
a short explanation and a way on; the contract's JSON under /api/."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import User
from tests.world import World, build_world

pytestmark = pytest.mark.django_db

LANGS = {"zh-hans": "zh-Hans", "en": "en"}


@pytest.fixture
def world() -> World:
    return build_world()


def client_in(lang: str, user: User | None = None, **kwargs: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=lang, raise_request_exception=False, **kwargs)
    if user is not None:
        client.force_login(user)
    return client


def page(response: Any) -> str:
    return response.content.decode()


def assert_site_page(html: str, lang: str) -> None:
    """The site's own look (its header and stylesheet), in the request's language."""
    assert f'<html lang="{lang}">' in html
    assert 'class="site-header"' in html
    assert "/static/css/site.css" in html
    assert 'href="/"' in html  # the home page, always a way on


@pytest.mark.parametrize(
    ("lang", "heading"), [("zh-hans", "页面不存在"), ("en", "There is no such page")]
)
def test_an_unknown_page_is_a_404_in_the_sites_look_and_language(lang: str, heading: str) -> None:
    response = client_in(lang).get("/no-such-page/")
    assert response.status_code == 404
    html = page(response)
    assert_site_page(html, lang)
    assert heading in html
    assert "/accounts/login/?next=%2Fno-such-page%2F" in html


@pytest.mark.parametrize(
    ("lang", "heading", "why"),
    [
        ("zh-hans", "您无权打开此页面", "管理后台供区级工作人员使用"),
        ("en", "You may not open this page", "The administration is for district officials"),
    ],
)
def test_an_enterprise_user_opening_the_admin_gets_the_sites_403(
    world: World, lang: str, heading: str, why: str
) -> None:
    # The admin sends a user who may not see it to its login, which refuses
    # a signed-in non-official (allauth's secure_admin_login).
    response = client_in(lang, world.ent_admin_x).get("/admin/", follow=True)
    assert response.redirect_chain == [("/admin/login/?next=/admin/", 302)]
    assert response.status_code == 403
    html = page(response)
    assert_site_page(html, lang)
    assert heading in html
    assert why in html
    assert world.ent_admin_x.email in html
    assert 'href="/portal/"' in html
    assert "403 Forbidden" not in html


def test_a_page_of_another_role_is_a_403_that_leads_to_the_portal(world: World) -> None:
    response = client_in("en", world.ent_admin_x).get("/operator/")
    assert response.status_code == 403
    html = page(response)
    assert "this account has no role that allows this page" in html
    assert 'href="/portal/"' in html


def test_the_403_offers_the_way_back_to_the_page_one_came_from(world: World) -> None:
    response = client_in("en", world.ent_admin_x).get(
        "/operator/", HTTP_REFERER="http://testserver/portal/"
    )
    assert response.status_code == 403
    assert 'href="http://testserver/portal/"' in page(response)
    # Another site's page is not offered.
    response = client_in("en", world.ent_admin_x).get(
        "/operator/", HTTP_REFERER="https://elsewhere.example/"
    )
    assert "elsewhere.example" not in page(response)


@pytest.mark.parametrize(
    ("lang", "heading"), [("zh-hans", "表单未能提交"), ("en", "The form could not be accepted")]
)
def test_a_form_without_its_csrf_token_gets_the_sites_page(lang: str, heading: str) -> None:
    response = client_in(lang, enforce_csrf_checks=True).post(
        "/accounts/login/", {"login": "a@example.com", "password": "x"}
    )
    assert response.status_code == 403
    html = page(response)
    assert_site_page(html, lang)
    assert heading in html


@pytest.mark.parametrize(
    ("lang", "heading"),
    [("zh-hans", "无法理解该请求"), ("en", "The request could not be understood")],
)
def test_a_malformed_request_is_a_400_in_the_sites_look(lang: str, heading: str) -> None:
    response = client_in(lang).get("/", HTTP_HOST="not-ours.example")
    assert response.status_code == 400
    html = page(response)
    assert f'<html lang="{lang}">' in html
    assert heading in html


@pytest.mark.urls("tests.config.error_urls")
@pytest.mark.parametrize(
    ("lang", "heading"), [("zh-hans", "服务器出错了"), ("en", "Something went wrong on our side")]
)
def test_a_server_fault_is_a_500_in_the_sites_look_and_language(
    lang: str, heading: str, django_assert_num_queries: Any
) -> None:
    client = client_in(lang)
    with django_assert_num_queries(0):
        response = client.get("/failing-page/")
    assert response.status_code == 500
    html = page(response)
    assert_site_page(html, lang)
    assert heading in html


@pytest.mark.urls("tests.config.error_urls")
def test_the_500_page_needs_no_context_processor(settings: Any) -> None:
    templates = copy.deepcopy(django_settings.TEMPLATES)
    templates[0]["OPTIONS"]["context_processors"].append(
        "tests.config.error_urls.broken_context_processor"
    )
    settings.TEMPLATES = templates
    response = client_in("en").get("/failing-page/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in page(response)


# -- Under /api/ the contract's JSON body, never a page ---------------------------


def api_error(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]


@pytest.mark.parametrize("path", ["/api/", "/api/v2/vouchers/X", "/api/v1/no-such-endpoint"])
def test_an_unknown_api_path_is_a_json_404(path: str) -> None:
    response = client_in("en").get(path)
    assert response.status_code == 404
    assert api_error(response) == {
        "code": "not_found",
        "message": "There is no such endpoint or object.",
        "field": None,
    }


def test_api_errors_follow_the_language_in_json() -> None:
    response = client_in("zh-hans").get("/api/nothing-here")
    assert response.status_code == 404
    assert api_error(response)["code"] == "not_found"
    assert api_error(response)["message"] != "There is no such endpoint or object."


@pytest.mark.urls("tests.config.error_urls")
def test_a_server_fault_under_the_api_is_json() -> None:
    response = client_in("en").get("/api/failing-endpoint/")
    assert response.status_code == 500
    assert api_error(response)["code"] == "internal_error"


@pytest.mark.urls("tests.config.error_urls")
def test_a_refusal_under_the_api_is_json() -> None:
    response = client_in("en").get("/api/denied-endpoint/")
    assert response.status_code == 403
    assert api_error(response)["code"] == "forbidden"


def test_a_malformed_request_under_the_api_is_json() -> None:
    response = client_in("en").get("/api/v1/ping", HTTP_HOST="not-ours.example")
    assert response.status_code == 400
    assert api_error(response)["code"] == "validation_error"


def test_a_refused_csrf_token_under_the_api_is_json() -> None:
    response = client_in("en", enforce_csrf_checks=True).post("/api/nothing-here", {"a": "b"})
    assert response.status_code in (403, 404)
    assert response["Content-Type"] == "application/json"
