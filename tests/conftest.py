"""Shared fixtures, and the rule that PostgreSQL-only tests skip loudly on SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_report_header(config: Any) -> list[str]:
    engine = settings.DATABASES["default"]["ENGINE"]
    if _on_postgres():
        return [f"database: PostgreSQL ({settings.DATABASES['default']['NAME']})"]
    return [
        "#" * 78,
        f"database: {engine} -- PostgreSQL-only tests (marked 'postgres') are SKIPPED",
        "#" * 78,
    ]


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if _on_postgres():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _english_by_default(settings: Any) -> None:
    """Tests read messages in English unless they switch language themselves."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_truncate_guards() -> Any:
    """Let the flush that ends a transactional test empty the append-only tables.

    The audit tables (and any other table guarded the same way) refuse
    TRUNCATE with a PostgreSQL trigger, and Django's ``flush`` TRUNCATEs every
    table between transactional tests. The flush alone runs with those
    TRUNCATE guards ignored (``audit.triggers.triggers_ignored``, this connection only); the
    UPDATE/DELETE guards are never ignored, and the tests themselves always run
    with every guard on.
    """
    import pgtrigger
    from django.core.management.commands import flush

    from audit.triggers import triggers_ignored

    guards = [
        f"{model._meta.app_label}.{model._meta.object_name}:{trigger.name}"
        for model, trigger in pgtrigger.registered()
        if "TRUNCATE" in str(trigger.operation).upper()
    ]
    original = flush.Command.handle

    def handle(self: Any, *args: Any, **options: Any) -> Any:
        with triggers_ignored(*guards):
            return original(self, *args, **options)

    flush.Command.handle = handle  # type: ignore[method-assign]
    yield
    flush.Command.handle = original  # type: ignore[method-assign]


@pytest.fixture
def private_media(settings: Any, tmp_path: Any) -> Any:
    """Private uploads (application documents) in a temporary folder of the test's own."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }
    return settings.PRIVATE_MEDIA_ROOT
