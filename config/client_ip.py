"""The client's network address, as the trusted proxy in front reports it.

Behind nginx (``deploy/nginx``) every request reaches the app from the proxy's
own address, so ``REMOTE_ADDR`` is the same for everyone: rate limits would
lump all clients together and the audit log would record ``127.0.0.1``. The
proxy appends the address it saw to ``X-Forwarded-For``
(``$proxy_add_x_forwarded_for``); only the entries appended by proxies we run
can be believed, since a client may send any ``X-Forwarded-For`` it likes.

``TRUSTED_PROXY_COUNT`` (setting, environment variable) says how many proxies
of ours stand in front of the app, each appending one entry: the client is
the entry that many places from the right. 0 (the default) trusts no proxy:
``X-Forwarded-For`` is ignored and the socket's address is the client's.
The shipped deployment (one nginx) sets 1; put 2 when a load balancer that
also appends stands in front of nginx. The app must then be reachable only
through the proxy (gunicorn binds to 127.0.0.1).

:func:`client_ip` is the one place an address is read: audit events, the
login rate limits (:class:`accounts.adapters.AccountAdapter.get_client_ip`)
and every view that records who acted.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def _clean(value: Any) -> str | None:
    """``value`` as a normalised IP address, or None when it is not one.

    Accepts ``[v6]:port`` and ``v4:port`` forms, which some proxies write.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def trusted_proxy_count() -> int:
    """How many proxies of ours append to ``X-Forwarded-For`` (0: trust none)."""
    try:
        return max(0, int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0))
    except (TypeError, ValueError):
        return 0


def client_ip(request: Any) -> str | None:
    """The address of the client that sent ``request``, or None if unknown.

    With ``TRUSTED_PROXY_COUNT`` = n > 0, the n-th ``X-Forwarded-For`` entry
    from the right (what our outermost proxy saw); entries further left came
    from the client and are ignored. A request that carries fewer entries
    passed fewer proxies than configured, and its leftmost entry is the
    nearest thing to the client. A malformed entry falls back to the socket.
    """
    meta = getattr(request, "META", {})
    remote = _clean(meta.get("REMOTE_ADDR"))
    count = trusted_proxy_count()
    if count == 0:
        return remote
    forwarded = meta.get("HTTP_X_FORWARDED_FOR") or ""
    hops = [hop.strip() for hop in str(forwarded).split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-count] if len(hops) >= count else hops[0]
    return _clean(candidate) or remote
