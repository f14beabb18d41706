"""What each kind of notification says: its sentence in the centre, the
templates of its e-mail, and the params rendered in the reader's language."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from common.formatting import amount

from .models import Notification

Kind = Notification.Kind

#: The sentence shown in the notification centre, one per kind.
SENTENCES: dict[str, Any] = {
    Kind.APPLICATION_SUBMITTED: _(
        "Application #%(number)s to %(program)s for %(amount)s was submitted."
    ),
    Kind.APPLICATION_APPROVED: _(
        "Application #%(number)s to %(program)s was approved for %(amount)s."
    ),
    Kind.APPLICATION_REJECTED: _("Application #%(number)s to %(program)s was not approved."),
    Kind.APPLICATION_RETURNED: _(
        "Application #%(number)s to %(program)s was returned for changes."
    ),
    Kind.VOUCHER_ISSUED: _("Voucher %(code)s of %(program)s is issued for %(amount)s."),
    Kind.VOUCHER_EXPIRING: _("Voucher %(code)s of %(program)s is valid until %(until)s."),
    Kind.VOUCHER_LOW_BALANCE: _("Less than 10%% of voucher %(code)s (%(program)s) is left."),
    Kind.CLAIM_SUBMITTED: _("Claim #%(number)s to %(program)s for %(amount)s was submitted."),
    Kind.CLAIM_RETURNED: _("Claim #%(number)s to %(program)s was returned for changes."),
    Kind.CLAIM_REJECTED: _("Claim #%(number)s to %(program)s was rejected."),
    Kind.CLAIM_APPROVED: _("Claim #%(number)s to %(program)s was approved for %(amount)s."),
    Kind.CLAIM_PAID: _("Claim #%(number)s to %(program)s is paid in full: %(amount)s."),
}

#: The kinds whose e-mail also goes to the enterprise's contact address (as
#: the voucher notices always did).
COPY_TO_CONTACT = frozenset({Kind.VOUCHER_ISSUED, Kind.VOUCHER_EXPIRING, Kind.VOUCHER_LOW_BALANCE})


#: The params that hold an amount (a decimal string in ``unit``).
AMOUNTS = ("amount", "balance")


def localized_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` as the active language reads them: ``name_en`` replaces
    ``name`` in English when filled in, amounts carry their unit and sign,
    ISO dates stay ISO (unambiguous in both languages)."""
    english = (get_language() or "").startswith("en")
    shown: dict[str, Any] = {}
    for key, value in params.items():
        if key.endswith("_en"):
            continue
        english_value = params.get(f"{key}_en")
        shown[key] = english_value if english and english_value else value
    for key in AMOUNTS:
        if key in shown:
            shown[key] = amount(shown[key], params.get("unit", "CNY"))
    return shown


def sentence(notification: Notification) -> str:
    """The notification's sentence in the active language."""
    template = SENTENCES.get(notification.kind)
    if template is None:
        return str(notification.get_kind_display())
    shown = localized_params(notification.params)
    try:
        return str(template) % shown
    except (KeyError, TypeError, ValueError):
        # A row written before a sentence changed its placeholders.
        return str(notification.get_kind_display())


def iso(day: datetime.date | None) -> str:
    return day.isoformat() if day else ""
