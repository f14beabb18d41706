"""Rule sets become versioned: each row is one version of a lineage.

The lineage is added empty here, filled (one per existing rule set, which
becomes its version 1) by 0003, and made required with its constraints and
the database's guards by 0004.
"""

import django.db.models.deletion
import django.utils.timezone
import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_encrypt_personal_data"),
        ("eligibility", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="ruleset",
            options={
                "ordering": ["district__code", "name", "-version"],
                "verbose_name": "eligibility rule set",
                "verbose_name_plural": "eligibility rule sets",
            },
        ),
        migrations.RemoveConstraint(
            model_name="ruleset",
            name="rule_set_unique_name",
        ),
        migrations.AddField(
            model_name="ruleset",
            name="based_on",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="eligibility.ruleset",
                verbose_name="edited from version",
            ),
        ),
        migrations.AddField(
            model_name="ruleset",
            name="created_at",
            field=models.DateTimeField(
                auto_now_add=True, default=django.utils.timezone.now, verbose_name="created at"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="ruleset",
            name="lineage",
            field=models.UUIDField(editable=False, null=True, verbose_name="rule set"),
        ),
        migrations.AddField(
            model_name="ruleset",
            name="published_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="published at"
            ),
        ),
        migrations.AddField(
            model_name="ruleset",
            name="published_by",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="published by",
            ),
        ),
        migrations.AddField(
            model_name="ruleset",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False, verbose_name="version"),
        ),
        migrations.AlterField(
            model_name="ruleset",
            name="status",
            field=django_fsm.FSMField(
                choices=[("draft", "Draft"), ("published", "Published")],
                default="draft",
                max_length=50,
                protected=True,
                verbose_name="status",
            ),
        ),
    ]
