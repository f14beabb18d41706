"""Forms of the enterprise portal."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.formatting import amount as format_amount
from common.formatting import compact_amount
from programs.models import Program

from .documents import max_bytes


class ApplicationForm(forms.Form):
    """Apply, change a draft or answer a return; the buttons say save or submit."""

    requested_amount = forms.DecimalField(
        label=_("Requested amount"),
        max_digits=16,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        error_messages={
            "required": _("Enter the amount you apply for."),
            "invalid": _("Enter the amount as a number, e.g. 50000 or 50000.00."),
            "min_value": _("The amount must be more than zero."),
            "max_decimal_places": _("Give the amount to the fen at most (two decimals)."),
            "max_digits": _("This amount is far too large."),
            "max_whole_digits": _("This amount is far too large."),
        },
    )
    purpose = forms.CharField(
        label=_("Purpose and usage scenario"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "What you will compute, on which models or data, and what it is for (max. 5,000 characters)."
        ),
        error_messages={
            "required": _("Describe what you will compute and what for."),
            "max_length": _(
                "The purpose can be at most 5,000 characters long; please shorten it "
                "(it has %(show_value)s)."
            ),
        },
    )
    document = forms.FileField(
        label=_("Add a supporting document"),
        required=False,
        widget=forms.ClearableFileInput(
            attrs={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"}
        ),
    )
    accept_obligations = forms.BooleanField(
        label=_("We accept the program's obligations stated above."), required=False
    )

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.program = program
        amount: Any = self.fields["requested_amount"]
        amount.max_value = program.per_enterprise_cap
        amount.help_text = gettext("At most %(cap)s per enterprise.") % {
            "cap": format_amount(program.per_enterprise_cap, program.unit),
        }
        from django.core.validators import MaxValueValidator

        amount.validators.append(MaxValueValidator(program.per_enterprise_cap))
        # Said in the program's own terms, not as the stock "Ensure this value
        # is less than or equal to 500000.00." (the field maps the validator's
        # code to this message).
        amount.error_messages["max_value"] = gettext(
            "The amount cannot exceed this program's cap per enterprise of %(cap)s."
        ) % {"cap": compact_amount(program.per_enterprise_cap, program.unit)}
        self.fields["document"].help_text = gettext(
            "PDF, PNG or JPEG, up to %(limit)s MB each. Saved with the draft."
        ) % {"limit": max_bytes() // (1024 * 1024)}
        if not program.display_obligations:
            del self.fields["accept_obligations"]

    def check_obligations(self) -> bool:
        """On submit: the obligations must be accepted (when the program has any)."""
        if "accept_obligations" in self.fields and not self.cleaned_data.get("accept_obligations"):
            self.add_error(
                "accept_obligations",
                gettext("Tick this box to accept the obligations before submitting."),
            )
            return False
        return True


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
