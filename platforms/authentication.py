"""DRF glue for signed platform requests: authentication, permission, rate limit."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.models import ComputePlatform

from .models import PlatformKey
from .signatures import VerifiedRequest, verify_request

DEFAULT_RATE = "6000/minute"


class PlatformPrincipal:
    """``request.user`` of a signed request: the platform, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, platform: ComputePlatform, key: PlatformKey) -> None:
        self.platform = platform
        self.key = key

    def __str__(self) -> str:
        return f"{self.platform.slug} ({self.key.key_id})"


class HTTPMessageSignatureAuthentication(BaseAuthentication):
    """RFC 9421 Ed25519 signatures, see :mod:`platforms.signatures`.

    ``request.user`` becomes a :class:`PlatformPrincipal` and ``request.auth``
    the :class:`~platforms.signatures.VerifiedRequest` (evidence included).
    Every refusal raises :class:`~common.errors.BusinessError` with the
    contract's code.
    """

    def authenticate(self, request: Request) -> tuple[PlatformPrincipal, VerifiedRequest]:
        verified = verify_request(request._request)
        return PlatformPrincipal(verified.platform, verified.key), verified

    def authenticate_header(self, request: Request) -> str:
        return 'Signature realm="platform-api"'


class IsSignedPlatform(BasePermission):
    """Only requests whose signature was accepted."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, VerifiedRequest)


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"600/minute"`` → (600, 60); None or ``""`` → no limit."""
    if not rate:
        return None
    count, _slash, period = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0].lower()]
    return int(count), seconds


class PlatformKeyRateThrottle(BaseThrottle):
    """A fixed-window request count per key (``PLATFORM_API_RATE_LIMIT``,
    e.g. ``"6000/minute"``; empty for none), in the default cache.

    One ``add`` and one ``incr`` per request: cheap enough for the hot path.
    With several processes, configure a shared cache (Redis) so they count
    together.
    """

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        verified = request.auth
        if not isinstance(verified, VerifiedRequest):
            return True
        parsed = parse_rate(getattr(settings, "PLATFORM_API_RATE_LIMIT", DEFAULT_RATE))
        if parsed is None:
            return True
        limit, period = parsed
        now = time.time()
        window = int(now // period)
        cache_key = f"platforms:rate:{verified.key.pk}:{period}:{window}"
        if cache.add(cache_key, 1, timeout=period + 1):
            count = 1
        else:
            try:
                count = cache.incr(cache_key)
            except ValueError:
                cache.add(cache_key, 1, timeout=period + 1)
                count = 1
        if count > limit:
            self.wait_seconds = (window + 1) * period - now
            return False
        return True

    def wait(self) -> float | None:
        return self.wait_seconds
