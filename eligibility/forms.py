"""The enterprise profile form (registration)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.forms import USCCField
from accounts.models import Enterprise

from .services import CORRECTABLE_FIELDS


class EnterpriseRegistrationForm(forms.ModelForm):
    # As pasted (spaces, lower case); cleaned to the 18-character code. The
    # model's unique check is left out: the service decides under a lock,
    # with a clearer message.
    uscc = USCCField(label=Enterprise._meta.get_field("uscc").verbose_name)

    class Meta:
        model = Enterprise
        # The registration data, the same fields an enterprise may correct later.
        fields = list(CORRECTABLE_FIELDS)
        widgets = {
            "founded_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        # Plain words instead of Django's stock "Ensure this value is greater
        # than or equal to 0." (the model's validators report under these codes too).
        error_messages = {
            "headcount": {
                "invalid": _("Enter the number of employees as a whole number, e.g. 25."),
                "min_value": _("The headcount cannot be negative."),
            },
            "prior_year_revenue": {
                "invalid": _("Enter the revenue in yuan as a number, e.g. 3200000.00."),
                "min_value": _("The revenue cannot be negative; enter 0 if there was none."),
                "max_decimal_places": _("Give the revenue to the fen at most (two decimals)."),
                "max_digits": _("This revenue is far too large; enter it in yuan."),
                "max_whole_digits": _("This revenue is far too large; enter it in yuan."),
            },
            "local_tax_paid": {
                "invalid": _("Enter the tax paid in yuan as a number, e.g. 150000.00."),
                "min_value": _("The tax paid cannot be negative; enter 0 if none was paid."),
                "max_decimal_places": _("Give the tax paid to the fen at most (two decimals)."),
                "max_digits": _("This tax amount is far too large; enter it in yuan."),
                "max_whole_digits": _("This tax amount is far too large; enter it in yuan."),
            },
            "founded_on": {"invalid": _("Enter the founding date as on the business licence.")},
            "contact_email": {"invalid": _("Enter an e-mail address such as name@example.com.")},
            "name": {
                "max_length": _(
                    "The name can be at most 200 characters long (it has %(show_value)s)."
                )
            },
        }

    def clean_founded_on(self) -> Any:
        founded = self.cleaned_data["founded_on"]
        if founded and founded > timezone.localdate():
            raise forms.ValidationError(_("The founding date cannot be in the future."))
        return founded

    def validate_unique(self) -> None:
        # Uniqueness is decided by the service, under a lock.
        return None


class EnterpriseCorrectionForm(EnterpriseRegistrationForm):
    """The same fields, filled with the enterprise's data, to correct them."""
