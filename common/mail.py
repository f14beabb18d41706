"""What every e-mail of the platform shares: the sender, named after the
platform in the reader's language, and absolute links to the site."""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings
from django.utils.translation import gettext as _


def sender() -> str:
    """``DEFAULT_FROM_EMAIL`` under the platform's name in the active language,
    e.g. ``算力券服务平台 <no-reply@…>``; a name set in the setting is kept."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    # Unencoded: Django encodes a non-ASCII name when it sends the message.
    return f"{name or _('Compute Voucher Platform')} <{address}>"


def site_url(path: str) -> str:
    """``path`` as an absolute link for an e-mail (``settings.SITE_URL``)."""
    return str(getattr(settings, "SITE_URL", "")).rstrip("/") + path
