"""BusinessError: one refusal type with a stable code, for every app."""

from __future__ import annotations

import pytest
from django.utils.translation import gettext_lazy

from common.errors import BusinessError, Code


def test_a_refusal_carries_its_code_message_and_field() -> None:
    refusal = BusinessError(Code.HOLD_NOT_OPEN, "closed", field="hold")
    assert (refusal.code, refusal.message, refusal.field) == ("hold_not_open", "closed", "hold")
    assert str(refusal) == "closed"
    assert refusal.messages == ["closed"]


def test_an_unknown_code_is_refused_when_the_error_is_made() -> None:
    with pytest.raises(ValueError, match="unknown error code"):
        BusinessError("no_such_code", "x")


def test_several_reasons_are_kept_one_by_one() -> None:
    refusal = BusinessError(Code.VALIDATION_ERROR, "a; b", messages=["a", "b"])
    assert refusal.messages == ["a", "b"]
    assert refusal.message == "a; b"


def test_a_lazy_message_stays_lazy_until_shown() -> None:
    message = gettext_lazy("Invalid input.")
    refusal = BusinessError(Code.VALIDATION_ERROR, message)
    assert refusal.message is message
    assert refusal.messages == [message]
