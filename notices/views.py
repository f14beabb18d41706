"""The enterprise portal's notification centre."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .kinds import sentence
from .selectors import notification_list_for
from .services import notifications_mark_read

PAGE_SIZE = 30


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """Every notification of the user's enterprises addressed to them, newest first."""
    notifications = notification_list_for(user=request.user)
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(notification, sentence(notification)) for notification in page]
    return render(
        request,
        "notices/notification_list.html",
        {
            "page": page,
            "rows": rows,
            "unread": notifications.filter(read_at__isnull=True).count(),
        },
    )


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification as read; with ``open``, go on to its object."""
    notification = get_object_or_404(notification_list_for(user=request.user), pk=pk)
    notifications_mark_read(user=request.user, notification_ids=[notification.pk])
    if request.POST.get("open") and url_has_allowed_host_and_scheme(
        notification.url, allowed_hosts=None
    ):
        return redirect(notification.url)
    return redirect("notification_list")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    notifications_mark_read(user=request.user)
    return redirect("notification_list")
