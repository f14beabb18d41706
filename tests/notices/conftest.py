"""The notices tests share the vouchers tests' districts, actors and checks
(fixtures and hook defined once, in tests/vouchers/conftest.py)."""

from tests.vouchers.conftest import (  # noqa: F401
    _private_media,
    applicant,
    enterprise,
    jianghan,
    program,
    pytest_runtest_teardown,
    reviewer,
)
