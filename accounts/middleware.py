"""Officials' and platform operators' sessions: two-factor authentication
first, and (officials) bounded lifetimes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from .scoping import scope_for

# Paths an official without MFA may still reach: the MFA set-up itself,
# signing out, the language switch and static files.
ALLOWED_PREFIXES = ("/accounts/", "/i18n/", "/static/")
# The platform operators' pages: settlements and payments, money. The signed
# machine API (/api/v1/) uses HTTP signatures, not sessions, and is not here.
OPERATOR_PREFIX = "/operator/"


def user_has_mfa(user: Any) -> bool:
    """True when the user has an active TOTP authenticator."""
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def is_platform_operator(user: Any) -> bool:
    """True when the user operates a compute platform (the platform_operator role)."""
    return bool(scope_for(user).platform_ids)


class OfficialMFARequiredMiddleware:
    """Send an official (or superuser) without TOTP to set it up, and nowhere
    else; and a platform operator without TOTP who opens an operator page.

    Operators handle money (settlement statements, payments), so their pages
    ask for the same second factor as the officials' admin; the rest of the
    site (their portal, an enterprise they also belong to) does not.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path.startswith(ALLOWED_PREFIXES):
            return self.get_response(request)
        if user.is_staff:
            reason = _("Officials must set up two-factor authentication before continuing.")
        elif request.path.startswith(OPERATOR_PREFIX) and is_platform_operator(user):
            reason = _(
                "Platform operators must set up two-factor authentication before continuing."
            )
        else:
            return self.get_response(request)
        if user_has_mfa(user):
            return self.get_response(request)
        messages.warning(request, reason)
        return HttpResponseRedirect(reverse("mfa_activate_totp"))


class OfficialSessionTimeoutMiddleware:
    """End officials' sessions after a period of inactivity and after an
    absolute lifetime, whatever their activity (ASVS 3.3).

    Enterprise and platform users keep Django's ordinary session lifetime.
    """

    IDLE_KEY = "official_last_seen"
    START_KEY = "official_session_started"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            now = int(time.time())
            session = request.session
            started = session.setdefault(self.START_KEY, now)
            last_seen = session.get(self.IDLE_KEY, now)
            idle_limit = settings.OFFICIAL_SESSION_IDLE_SECONDS
            absolute_limit = settings.OFFICIAL_SESSION_ABSOLUTE_SECONDS
            if now - last_seen > idle_limit or now - started > absolute_limit:
                logout(request)
                messages.info(request, _("Your session has ended; please sign in again."))
                return redirect_to_login(request.get_full_path(), reverse("account_login"))
            session[self.IDLE_KEY] = now
        return self.get_response(request)


class PrivateDownloadsNotStoredMiddleware:
    """No cache keeps a download: every response that is a file (it carries
    ``Content-Disposition``) gets ``Cache-Control: no-store, private``.

    Every download here is someone's private data — ledgers, certificates,
    supporting documents, settlement statements, audit exports — so this is
    decided once for all of them rather than remembered in each view, and a
    shared or browser cache never keeps a copy after the user has gone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.has_header("Content-Disposition"):
            add_never_cache_headers(response)
        return response
