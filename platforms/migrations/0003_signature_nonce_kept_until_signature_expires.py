"""Nonces are kept as long as their signature could be accepted (``expires_at``).

Existing rows keep the old rule's end, 300 s from first use.
"""

import datetime

from django.db import migrations, models
from django.db.models import F


def backfill_expires_at(apps, schema_editor):
    SignatureNonce = apps.get_model("platforms", "SignatureNonce")
    SignatureNonce.objects.update(expires_at=F("seen_at") + datetime.timedelta(seconds=300))


class Migration(migrations.Migration):
    dependencies = [
        ("platforms", "0002_signed_request_body"),
    ]

    operations = [
        migrations.AddField(
            model_name="signaturenonce",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(backfill_expires_at, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="signaturenonce",
            name="expires_at",
            field=models.DateTimeField(),
        ),
        migrations.RemoveIndex(
            model_name="signaturenonce",
            name="platforms_s_seen_at_7d1ef7_idx",
        ),
        migrations.AddIndex(
            model_name="signaturenonce",
            index=models.Index(fields=["expires_at"], name="platforms_s_expires_01ce9e_idx"),
        ),
    ]
