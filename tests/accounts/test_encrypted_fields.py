"""Personal data at rest: the contact phone and the legal representative's ID
number are stored encrypted, read back in plain text, and keys rotate."""

from __future__ import annotations

import io
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from accounts.fields import ENCRYPTED_PREFIX
from accounts.models import Enterprise
from tests.accounts.factories import EnterpriseFactory

pytestmark = pytest.mark.django_db


def stored(enterprise: Enterprise, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM accounts_enterprise WHERE id = %s",  # noqa: S608 - fixed names
            [enterprise.pk],
        )
        return cursor.fetchone()[0]


def test_the_phone_and_id_number_are_ciphertext_in_the_database(settings: Any) -> None:
    enterprise = EnterpriseFactory(
        contact_phone="139-0710-3321", legal_representative_id_number="42010319800101123X"
    )
    for column, plain in (
        ("contact_phone", "139-0710-3321"),
        ("legal_representative_id_number", "42010319800101123X"),
    ):
        raw = stored(enterprise, column)
        assert raw.startswith(ENCRYPTED_PREFIX)
        assert plain not in raw
    again = Enterprise.objects.get(pk=enterprise.pk)
    assert again.contact_phone == "139-0710-3321"
    assert again.legal_representative_id_number == "42010319800101123X"


def test_keys_rotate_without_losing_a_value(settings: Any) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    enterprise = EnterpriseFactory(contact_phone="027-8561-2201")
    under_old = stored(enterprise, "contact_phone")

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert Enterprise.objects.get(pk=enterprise.pk).contact_phone == "027-8561-2201"
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "accounts.Enterprise" in out.getvalue()
    assert stored(enterprise, "contact_phone") != under_old

    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert Enterprise.objects.get(pk=enterprise.pk).contact_phone == "027-8561-2201"


def test_a_missing_key_is_a_clear_error_not_garbage(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    enterprise = EnterpriseFactory(contact_phone="027-0000-1111")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ValueError, match="FIELD_ENCRYPTION_KEYS"):
        Enterprise.objects.get(pk=enterprise.pk)
