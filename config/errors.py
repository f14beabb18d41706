"""The site's error pages: 400, 403 (and a refused CSRF token), 404 and 500.

People get a page in the site's own look and in their language (the one
LocaleMiddleware chose for the request) that says in a sentence what went
wrong and offers a way on: the home page, signing in, the page they came
from. Under ``/api/`` the platforms' clients get the contract's JSON error
body instead (``platform-api.md``), never an HTML page.

The 500 page is rendered from a template that extends nothing and without
the context processors: whatever failed (the database, a context processor)
must not fail the error page too.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.csrf import requires_csrf_token

from platforms.api_errors import http_error_response

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    """True for a request to the platform API, which answers in JSON only."""
    return request.path.startswith(API_PREFIX)


def page_back(request: HttpRequest) -> str | None:
    """The page the visitor came from, if it is one of ours and not this one."""
    referer = request.META.get("HTTP_REFERER", "")
    if not referer or not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    if referer.endswith(request.get_full_path()):
        return None
    return referer


def _page(request: HttpRequest, template: str, status: int, **context: Any) -> HttpResponse:
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    login_url = reverse("account_login")
    if not signed_in and request.method == "GET":
        # Back here after signing in.
        login_url = f"{login_url}?{urlencode({'next': request.get_full_path()})}"
    return render(
        request,
        template,
        {
            "back_url": page_back(request),
            "login_url": login_url,
            "signed_in": signed_in,
            "in_admin": request.path.startswith("/admin/"),
            **context,
        },
        status=status,
    )


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """400: a request the site could not make sense of."""
    if is_api(request):
        return http_error_response(400)
    try:
        return _page(request, "400.html", 400)
    except Exception:
        # A request malformed enough (a host not allowed) can fail the page's
        # own links: answer plainly rather than with a 500.
        logger.exception("The 400 page could not be rendered")
        return HttpResponseBadRequest(loader.render_to_string("500.html", {"status": 400}))


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: a page this account may not open (or no account, where one is needed)."""
    if is_api(request):
        return http_error_response(403)
    return _page(request, "403.html", 403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: no such page, or one this visitor may not know exists."""
    if is_api(request):
        return http_error_response(404)
    return _page(request, "404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: a fault on our side; a page that needs neither database nor context processors."""
    if is_api(request):
        return http_error_response(500)
    try:
        # A plain dict, no request: no context processor runs.
        html = loader.render_to_string("500.html", {"status": 500})
    except Exception:
        logger.exception("The 500 page could not be rendered")
        return HttpResponseServerError(b"<h1>500</h1>", content_type="text/html")
    return HttpResponseServerError(html)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """403: a form sent without a valid security token (CSRF_FAILURE_VIEW)."""
    if is_api(request):
        return http_error_response(403)
    return _page(request, "403_csrf.html", 403, debug_reason=reason if settings.DEBUG else "")
