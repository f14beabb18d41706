"""Shared actors for the vouchers tests."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Membership
from tests.accounts.factories import DistrictFactory, EnterpriseFactory
from tests.programs.factories import open_program
from tests.vouchers.factories import member, official


@pytest.fixture(autouse=True)
def _private_media(private_media: Any) -> None:
    """Uploads go to a temporary folder (``private_media`` in tests/conftest.py)."""


@pytest.fixture
def jianghan(db: Any) -> Any:
    return DistrictFactory(code="420103", name="江汉区", name_en="Jianghan")


@pytest.fixture
def guiyang(db: Any) -> Any:
    return DistrictFactory(code="520100", name="贵阳市", name_en="Guiyang")


@pytest.fixture
def program(jianghan: Any) -> Any:
    return open_program(district=jianghan)


@pytest.fixture
def enterprise(jianghan: Any) -> Any:
    return EnterpriseFactory(division="420103")


@pytest.fixture
def applicant(enterprise: Any) -> Any:
    return member(enterprise)


@pytest.fixture
def reviewer(jianghan: Any) -> Any:
    return official(jianghan, Membership.Role.REVIEWER)


@pytest.fixture
def second_reviewer(jianghan: Any) -> Any:
    return official(jianghan, Membership.Role.REVIEWER)


@pytest.fixture
def manager(jianghan: Any) -> Any:
    return official(jianghan, Membership.Role.PROGRAM_MANAGER)


@pytest.fixture
def outsider_reviewer(guiyang: Any) -> Any:
    return official(guiyang, Membership.Role.REVIEWER)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: Any, nextitem: Any) -> Any:
    """Transactional tests end with a TRUNCATE of every table, which the audit
    log's trigger refuses on purpose; let the test database's flush through."""
    marker = item.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return (yield)
    from django.conf import settings

    from audit.triggers import triggers_ignored

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return (yield)
    with triggers_ignored("audit.AuditEvent:audit_event_no_truncate"):
        return (yield)
