"""Form fields shared by every app's forms (``accounts`` is the bottom layer)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .uscc import normalize_uscc, uscc_problem

#: What a person may paste: 18 characters with spaces between groups
#: ("9142 0103 MA4K 3Q7R 5R" is 22), or one per character (35), and some slack.
USCC_INPUT_MAX_LENGTH = 40


class USCCField(forms.CharField):
    """A Unified Social Credit Code as people paste it.

    Spaces, hyphens, full-width characters and lower case are accepted and
    normalised (``9142 0103 ma4k 3q7r 5r`` → ``91420103MA4K3Q7R5R``); the
    input is long enough for the pasted text, and the cleaned value is the
    18-character code, checked (:func:`accounts.uscc.uscc_problem`).
    """

    default_help_text = _(
        "18 characters, as printed on the business licence; spaces and lower case are accepted."
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs["max_length"] = USCC_INPUT_MAX_LENGTH
        kwargs.setdefault(
            "error_messages",
            {
                "max_length": _(
                    "A Unified Social Credit Code has 18 characters; this text has "
                    "%(show_value)s. Please paste the code alone."
                )
            },
        )
        kwargs.setdefault("help_text", self.default_help_text)
        attrs = {
            "autocomplete": "off",
            "spellcheck": "false",
            "autocapitalize": "characters",
            "class": "mono uscc",
        }
        kwargs.setdefault("widget", forms.TextInput(attrs=attrs))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return normalize_uscc(text) if text else ""

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value in self.empty_values:
            return
        problem = uscc_problem(value)
        if problem:
            raise forms.ValidationError(problem, code="invalid_uscc")
