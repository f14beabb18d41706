"""Reading notifications: only a person's own, of enterprises they belong to."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.scoping import scope_for

from .models import Notification


def notification_list_for(*, user: Any) -> QuerySet[Notification]:
    """The user's notifications, newest first, while they are a member of the
    enterprise (a superuser too sees only those addressed to them)."""
    scope = scope_for(user)
    if scope.user_id is None:
        return Notification.objects.none()
    return (
        Notification.objects.filter(Notification.scope_q(scope))
        .select_related("enterprise")
        .order_by("-created_at", "-id")
    )


def notification_unread_count(*, user: Any) -> int:
    return notification_list_for(user=user).filter(read_at__isnull=True).count()
