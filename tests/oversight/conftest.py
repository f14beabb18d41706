"""The oversight tests sign with a temporary key and seal only when asked, as
the audit tests do (fixture defined once, in tests/audit/conftest.py)."""

from tests.audit.conftest import _audit_settings  # noqa: F401
