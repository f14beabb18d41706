"""Forms of the voucher pages and of the officials' voucher actions."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from .models import LedgerEntry

#: Dates a filter can reach: near year 1 or 9999 the next midnight overflows.
DATE_LIMITS = [
    MinValueValidator(datetime.date(2000, 1, 1)),
    MaxValueValidator(datetime.date(2099, 12, 31)),
]


class LedgerFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *LedgerEntry.Kind.choices]
    )
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        validators=DATE_LIMITS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=_("To"),
        required=False,
        validators=DATE_LIMITS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date comes before the start date."))
        return data


class VoucherActionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("Recorded in the audit log and shown to the enterprise."),
    )


class ClawbackForm(VoucherActionForm):
    amount = forms.DecimalField(
        label=_("Amount to recover"),
        required=False,
        min_value=0,
        decimal_places=2,
        max_digits=16,
        help_text=_("Leave empty to recover everything the voucher covered (net of reversals)."),
    )
