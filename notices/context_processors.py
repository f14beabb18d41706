"""Template context: the unread count in the portal's header."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .selectors import notification_unread_count


def unread_notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_staff:
        return {}
    return {"nav_unread_notifications": notification_unread_count(user=user)}
