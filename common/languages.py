"""The language a document (a PDF) is asked for."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language


def requested_language(request: HttpRequest) -> str:
    """``?lang=`` when it is one of the site's languages, else the request's
    own (LocaleMiddleware's choice: cookie, then Accept-Language)."""
    codes = [code for code, _name in settings.LANGUAGES]
    wanted = request.GET.get("lang", "")
    if wanted in codes:
        return wanted
    current = get_language()
    return current if current in codes else settings.LANGUAGE_CODE
