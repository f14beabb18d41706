"""Forms of the voucher pages and of the officials' voucher actions."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from .models import LedgerEntry, Program

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


class BulkIssueForm(forms.Form):
    program = forms.ModelChoiceField(label=_("Program"), queryset=Program.objects.none())
    csv_file = forms.FileField(
        label=_("CSV file"),
        required=False,
        help_text=_("Two columns: USCC, amount. A header line is optional."),
    )
    csv_text = forms.CharField(
        label=_("…or paste the lines here"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "mono"}),
    )
    validate_only = forms.BooleanField(
        label=_("Only check the file, issue nothing"), required=False, initial=True
    )

    def __init__(self, *args: Any, programs: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if programs is not None:
            self.fields["program"].queryset = programs  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("csv_file")
        if upload:
            raw = upload.read(2_000_001)
            if len(raw) > 2_000_000:
                self.add_error("csv_file", _("The file is larger than 2 MB."))
                return data
            try:
                data["csv_text"] = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("csv_file", _("The file must be UTF-8 text."))
                return data
            if "\x00" in data["csv_text"]:
                # Text has no NUL characters (and the database refuses them).
                self.add_error("csv_file", _("The file must be UTF-8 text."))
                return data
            # Keep what was uploaded in the text box, so a correction loses nothing.
            kept = self.data.copy()  # type: ignore[attr-defined]
            kept["csv_text"] = data["csv_text"]
            self.data = kept
        if not (data.get("csv_text") or "").strip():
            self.add_error("csv_text", _("Upload a file or paste its lines."))
            return data
        # A lone carriage return ends a line too; the csv module would call it an error.
        text = data["csv_text"].replace("\r\n", "\n").replace("\r", "\n")
        data["csv_text"] = text
        try:
            for _cells in csv.reader(io.StringIO(text)):
                pass
        except csv.Error:
            self.add_error(
                "csv_file" if upload else "csv_text",
                _(
                    "The lines cannot be read as CSV: look for an unclosed quote or a very long line."
                ),
            )
        return data
