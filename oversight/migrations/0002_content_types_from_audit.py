"""Move the content types of DetectorSettings and AnomalyFlag from audit to oversight.

Permissions hang on content types, and users' and groups' grants on
permissions: renaming the two rows (rather than letting Django create new
ones after the migration) keeps every grant attached. On a fresh database
there are no rows yet and this does nothing. Should an ``oversight`` row
already exist (a post_migrate run in between), the ``audit`` row's
permissions and grants are moved onto it and the ``audit`` row dropped.
"""

from django.conf import settings
from django.db import migrations

MODELS = ("detectorsettings", "anomalyflag")


def _move(apps, schema_editor, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    for model in MODELS:
        old = ContentType.objects.using(db).filter(app_label=source, model=model).first()
        if old is None:
            continue
        new = ContentType.objects.using(db).filter(app_label=target, model=model).first()
        if new is None:
            old.app_label = target
            old.save(update_fields=["app_label"])
            continue
        # Both exist: carry each old permission's grants over to the new one
        # with the same codename (or the permission itself when there is none).
        for perm in Permission.objects.using(db).filter(content_type=old):
            twin = (
                Permission.objects.using(db)
                .filter(content_type=new, codename=perm.codename)
                .first()
            )
            if twin is None:
                perm.content_type = new
                perm.save(update_fields=["content_type"])
                continue
            for group in perm.group_set.all():
                group.permissions.add(twin)
            for user in perm.user_set.all():
                user.user_permissions.add(twin)
        old.delete()


def forwards(apps, schema_editor):
    _move(apps, schema_editor, "audit", "oversight")


def backwards(apps, schema_editor):
    _move(apps, schema_editor, "oversight", "audit")


class Migration(migrations.Migration):

    dependencies = [
        ('oversight', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('auth', '0012_alter_user_first_name_max_length'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
