"""Telling an enterprise's people what happened: one service writes the
notification rows (the portal's notification centre) and queues their
e-mails; applications, vouchers and claims all call it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Enterprise, Membership
from common.mail import sender, site_url

from .kinds import COPY_TO_CONTACT, localized_params, sentence
from .models import Notification


def notify(
    *,
    enterprise: Enterprise,
    kind: str,
    params: dict[str, Any],
    url: str,
    email_now: bool = False,
    addresses: list[tuple[str, str]] | None = None,
) -> list[Notification]:
    """Record ``kind`` for every active member of ``enterprise`` (and, for the
    voucher notices, a copy for its contact address) and e-mail each.

    ``addresses`` ((e-mail, language) pairs) replaces that list where the
    caller recorded whom to tell when the event happened (a voucher
    reminder keeps its recipients): a member among them gets the notice in
    the centre too, any other address an e-mail only.

    Called inside the transaction of the change it reports: the e-mails go
    by a Celery task once that has committed. A caller that already runs
    after the commit (a delivery task) passes ``email_now``.
    """
    now = timezone.now()
    members: dict[str, Any] = {}
    for membership in (
        Membership.objects.filter(
            enterprise=enterprise, role__in=Membership.ENTERPRISE_ROLES, user__is_active=True
        )
        .select_related("user")
        .order_by("user_id")
    ):
        # one notice per person, whatever roles they hold
        members.setdefault(membership.user.email.lower(), membership.user)
    if addresses is None:
        addresses = [
            (user.email, user.preferred_language or settings.LANGUAGE_CODE)
            for user in members.values()
        ]
        if kind in COPY_TO_CONTACT and enterprise.contact_email:
            addresses.append((enterprise.contact_email, settings.LANGUAGE_CODE))
    rows: list[Notification] = []
    told: set[str] = set()
    for email, language in addresses:
        if not email or email.lower() in told:
            continue
        told.add(email.lower())
        rows.append(
            Notification(
                enterprise=enterprise,
                # A member gets the notice in the centre too; any other
                # address (the contact's) an e-mail only.
                recipient=members.get(email.lower()),
                email=email,
                language=language or settings.LANGUAGE_CODE,
                kind=kind,
                params=params,
                url=url,
                created_at=now,
            )
        )
    Notification.objects.bulk_create(rows)
    ids = [row.pk for row in rows]
    if email_now:
        notification_emails_send(notification_ids=ids)
    elif ids:
        transaction.on_commit(lambda: _send_later(ids))
    return rows


def _send_later(ids: list[int]) -> None:
    from .tasks import send_notification_emails

    send_notification_emails.delay(ids)


def notification_emails_send(*, notification_ids: list[int]) -> int:
    """E-mail each notification not yet e-mailed, in its reader's language;
    returns how many were sent.

    Idempotent: each row is locked, sent and marked in its own transaction,
    so a task that runs again sends only what a killed worker left unsent.
    """
    sent = 0
    for pk in notification_ids:
        with transaction.atomic():
            notification = (
                Notification.objects.select_for_update(of=("self",))
                .select_related("enterprise", "recipient")
                .filter(pk=pk, emailed_at__isnull=True)
                .exclude(email="")
                .first()
            )
            if notification is None:
                continue
            notification_email(notification).send()
            notification.emailed_at = timezone.now()
            notification.save(update_fields=["emailed_at"])
            sent += 1
    return sent


def greeting_name(notification: Notification) -> str:
    """Whom the e-mail greets: the person by name, else the company."""
    recipient = notification.recipient
    if recipient is not None and recipient.full_name:
        return str(recipient.full_name)
    if recipient is None and notification.enterprise.contact_name:
        return str(notification.enterprise.contact_name)
    return str(notification.enterprise.name)


def notification_email(notification: Notification) -> EmailMultiAlternatives:
    """The e-mail of ``notification``: subject, text and HTML in its language."""
    language = notification.language
    with translation.override(language):
        params = localized_params(notification.params)
        context: dict[str, Any] = {
            "notification": notification,
            "p": params,
            "enterprise": notification.enterprise,
            "greeting_name": greeting_name(notification),
            "sentence": sentence(notification),
            "link": site_url(notification.url),
            "centre_url": site_url(reverse("notification_list")),
        }
        voucher_id = notification.params.get("voucher_id")
        if voucher_id:
            context["certificate_url"] = site_url(
                reverse("voucher_certificate", args=[voucher_id])
                + "?"
                + urlencode({"lang": language})
            )
        prefix = f"notices/email/{notification.kind}"
        subject = " ".join(render_to_string(f"{prefix}_subject.txt", context).split())
        text = render_to_string(f"{prefix}.txt", context)
        html = render_to_string("notices/email/base.html", {**context, "text": text})
        message = EmailMultiAlternatives(subject, text, sender(), [notification.email])
    message.attach_alternative(html, "text/html")
    return message


def notifications_mark_read(*, user: Any, notification_ids: list[int] | None = None) -> int:
    """Mark the user's notifications as read (only ``notification_ids`` when
    given, else all of them); returns how many changed."""
    from .selectors import notification_list_for

    unread = notification_list_for(user=user).filter(read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    return unread.update(read_at=timezone.now())
