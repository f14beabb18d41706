"""One copy of each content per application (issue 13: a file chosen together
with a failed save was stored, not shown, and stored again on the next save).

Copies already stored twice are byte-identical (same SHA-256), so the later
rows are dropped before the constraint is added and the earliest one, which
the applicant saw first, stays. Their files are left on disk.
"""

from django.conf import settings
from django.db import migrations, models


def drop_duplicate_copies(apps, schema_editor):
    document_model = apps.get_model("vouchers", "ApplicationDocument")
    seen = set()
    duplicates = []
    for pk, application_id, sha256 in document_model.objects.order_by(
        "application_id", "uploaded_at", "pk"
    ).values_list("pk", "application_id", "sha256"):
        if (application_id, sha256) in seen:
            duplicates.append(pk)
        else:
            seen.add((application_id, sha256))
    if duplicates:
        document_model.objects.filter(pk__in=duplicates).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("vouchers", "0011_hot_path_queries_and_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_duplicate_copies, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="applicationdocument",
            constraint=models.UniqueConstraint(
                fields=("application", "sha256"), name="application_document_content_once"
            ),
        ),
    ]
