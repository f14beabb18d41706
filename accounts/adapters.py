"""allauth adapter: where people land after signing in, and their language."""

from __future__ import annotations

import time
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation

from common.mail import sender
from config.client_ip import client_ip

from .middleware import user_has_mfa
from .models import Membership, User


def greeting_name_of(user: Any) -> str:
    """Whom an e-mail to ``user`` greets: their name, else their enterprise's
    name, else nobody by name (never their e-mail address)."""
    if user is None:
        return ""
    if user.full_name:
        return str(user.full_name)
    membership = (
        Membership.objects.filter(user=user, enterprise__isnull=False)
        .select_related("enterprise")
        .order_by("pk")
        .first()
    )
    return str(membership.enterprise.name) if membership and membership.enterprise else ""


# An official who has just typed their password is not asked for it again
# before the compulsory TOTP set-up that follows the login.
FRESH_LOGIN_SECONDS = 300


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """Officials go to the admin; a new user without an organisation is
        walked to "register your enterprise"; an assessor to the claims and
        agreements assigned to them; everyone else to their portal."""
        user: Any = request.user
        if user.is_staff:
            return reverse("admin:index")
        if not user.memberships.exists():
            return reverse("enterprise_register")
        if user.memberships.filter(role=Membership.Role.ASSESSOR).exists():
            return reverse("assess_list")
        return reverse("portal")

    def get_client_ip(self, request: HttpRequest) -> str:
        """The client's address for allauth's rate limits (login, sign-up, reset).

        The same address the audit log records (:func:`config.client_ip.client_ip`),
        so that behind the proxy each client is limited on its own.
        """
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def get_from_email(self) -> str:
        """The platform's name as the sender, in the reader's language."""
        return sender()

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """allauth's e-mails (confirmation, password reset, …) in the
        recipient's preferred language, greeting them by name (or their
        enterprise's), never by their address."""
        user: Any = context.get("user")
        if not isinstance(user, User):
            user = User.objects.filter(email__iexact=email).first()
        language = (
            user.preferred_language if user is not None else translation.get_language()
        ) or settings.LANGUAGE_CODE
        context = {
            **context,
            "greeting_name": greeting_name_of(user),
            "site_url": settings.SITE_URL,
        }
        with translation.override(language):
            super().send_mail(template_prefix, email, context)

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user.preferred_language = translation.get_language() or user.preferred_language
        return super().save_user(request, user, form, commit)

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        request = self.request
        user: Any = getattr(request, "user", None)
        if (
            app in {"mfa", "allauth.mfa"}
            and request is not None
            and user is not None
            and user.is_authenticated
            and not user_has_mfa(user)
        ):
            records = get_authentication_records(request, user)
            if records and time.time() - float(records[-1]["at"]) < FRESH_LOGIN_SECONDS:
                return False
        return super().is_reauthentication_required(app=app, **kwargs)
