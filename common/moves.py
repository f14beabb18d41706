"""Migration operations for moving a model from one app to another.

The model's table stays where it is (``SeparateDatabaseAndState`` changes
only Django's state); :func:`move_content_types` makes the content type
follow, so permissions (and the roles and users granted them), admin log
entries and anything else keyed by content type stay attached.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import migrations


def move_content_types(app_from: str, app_to: str, models: Iterable[str]) -> Any:
    names = list(models)

    def forwards(apps: Any, schema_editor: Any) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        for model in names:
            if not content_type.objects.filter(app_label=app_to, model=model).exists():
                content_type.objects.filter(app_label=app_from, model=model).update(
                    app_label=app_to
                )

    def backwards(apps: Any, schema_editor: Any) -> None:
        forwards_ = move_content_types(app_to, app_from, names)
        forwards_.code(apps, schema_editor)

    return migrations.RunPython(forwards, backwards)
