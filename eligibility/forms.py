"""The enterprise profile form (registration)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Enterprise
from accounts.uscc import normalize_uscc, uscc_problem

from .services import CORRECTABLE_FIELDS


class EnterpriseRegistrationForm(forms.ModelForm):
    class Meta:
        model = Enterprise
        # The registration data, the same fields an enterprise may correct later.
        fields = list(CORRECTABLE_FIELDS)
        widgets = {
            "founded_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "uscc": forms.TextInput(
                attrs={"autocomplete": "off", "spellcheck": "false", "maxlength": 22}
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The model's unique check would answer before our clearer message.
        uscc_field = cast(forms.CharField, self.fields["uscc"])
        uscc_field.validators = []
        uscc_field.max_length = 22

    def clean_uscc(self) -> str:
        code = normalize_uscc(self.cleaned_data["uscc"])
        problem = uscc_problem(code)
        if problem:
            raise forms.ValidationError(problem, code="invalid_uscc")
        return code

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
