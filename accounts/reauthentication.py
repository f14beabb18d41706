"""Re-authentication before sensitive changes (ASVS 2.5 / 3.7).

An official who changes what a program may spend — its budget, caps, rate
or phase-down schedule — must have entered their password or a TOTP code in
the last ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds, even if signed in for
longer. allauth's middleware turns the exception raised here into its
re-authentication page, keeps the POST that was interrupted, and replays it
afterwards, so nothing the official typed is lost.
"""

from __future__ import annotations

from typing import Any

from allauth.account.internal.flows.reauthentication import did_recently_reauthenticate
from allauth.core.exceptions import ReauthenticationRequired


def require_recent_reauthentication(request: Any) -> None:
    """Refuse (for now) unless the user re-authenticated recently."""
    if not did_recently_reauthenticate(request):
        raise ReauthenticationRequired()
