"""The applications tests share the vouchers tests' districts, actors, private media
and checks (fixtures and hook defined once, in tests/vouchers/conftest.py)."""

from tests.vouchers.conftest import (  # noqa: F401
    _private_media,
    applicant,
    enterprise,
    guiyang,
    jianghan,
    manager,
    outsider_reviewer,
    program,
    pytest_runtest_teardown,
    reviewer,
    second_reviewer,
)
