"""Model fields shared by every app (``accounts`` is the bottom layer)."""

from __future__ import annotations

from typing import Any

from django.db import models


class BulkJSONField(models.JSONField):
    """A JSONField that bulk-inserts as plain ``VALUES`` rows.

    Django 5.2 bulk-inserts on PostgreSQL through ``UNNEST(%s::jsonb[])``,
    and psycopg dumps a jsonb array by escaping every element with a regular
    expression callback per quote character: for the 1,000 ledger entries of
    a usage batch, each carrying its signed request's evidence, that took
    most of the request's time. A field with a ``get_placeholder`` makes
    Django use ``VALUES`` for the whole insert, where each value is sent as
    one parameter. Nothing else changes: same column type, same data.
    """

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"


# -- personal data encrypted at rest (PIPL) ------------------------------------------

ENCRYPTED_PREFIX = "fernet:"


def _fernet() -> Any:
    """The keys of FIELD_ENCRYPTION_KEYS as a MultiFernet: the first encrypts,
    all of them decrypt (so keys can be rotated; see docs/encryption.md)."""
    from cryptography.fernet import Fernet, MultiFernet
    from django.conf import settings

    keys = [k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()]
    if not keys:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_text(plain: str) -> str:
    return ENCRYPTED_PREFIX + _fernet().encrypt(plain.encode()).decode()


def decrypt_text(stored: str) -> str:
    """The plain text of a stored value (a legacy plain value passes through)."""
    if not stored.startswith(ENCRYPTED_PREFIX):
        return stored
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(stored[len(ENCRYPTED_PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "An encrypted field cannot be decrypted with FIELD_ENCRYPTION_KEYS "
            "(was a key removed before every row was re-encrypted?)."
        ) from exc


class EncryptedCharField(models.TextField):
    """Text encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256), keys
    from the environment.

    For the personal data PIPL treats as sensitive (a legal representative's
    ID number, phone numbers). Python code sees plain text; the database only
    ciphertext, different each time it is saved, so the column cannot be
    searched or filtered on — compare in Python. ``max_length`` is checked on
    the plain text by forms and ``full_clean``.
    """

    def __init__(self, *args: Any, max_length: int | None = None, **kwargs: Any) -> None:
        self.plain_max_length = max_length
        super().__init__(*args, **kwargs)
        if max_length is not None:
            from django.core.validators import MaxLengthValidator

            self.validators.append(MaxLengthValidator(max_length))

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.plain_max_length is not None:
            kwargs["max_length"] = self.plain_max_length
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return value if value is None else decrypt_text(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            return decrypt_text(value)
        return value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(str(value))

    def formfield(self, **kwargs: Any) -> Any:
        from django import forms

        defaults: dict[str, Any] = {"max_length": self.plain_max_length, "widget": forms.TextInput}
        defaults.update(kwargs)
        return super().formfield(**defaults)
