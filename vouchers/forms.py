"""Forms of the enterprise portal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.formatting import amount as format_amount

from .documents import max_bytes
from .models import Program


class ApplicationForm(forms.Form):
    """Apply, change a draft or answer a return; the buttons say save or submit."""

    requested_amount = forms.DecimalField(
        label=_("Requested amount"),
        max_digits=16,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    purpose = forms.CharField(
        label=_("Purpose and usage scenario"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "What you will compute, on which models or data, and what it is for (max. 5,000 characters)."
        ),
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
