"""Every existing rule set becomes version 1 of a lineage of its own.

Those already published keep their status (published when last saved);
drafts that programs use are published by vouchers' migration, which knows
the programs.
"""

import uuid

from django.db import migrations


def number_existing(apps, schema_editor):
    RuleSet = apps.get_model("eligibility", "RuleSet")
    for pk, status, updated_at in RuleSet.objects.values_list("pk", "status", "updated_at"):
        values = {"lineage": uuid.uuid4(), "version": 1}
        if status == "published":
            values["published_at"] = updated_at
        # update(), not save(): the status is a protected FSM field.
        RuleSet.objects.filter(pk=pk).update(**values)


class Migration(migrations.Migration):

    dependencies = [
        ("eligibility", "0002_rule_set_versions"),
    ]

    operations = [
        migrations.RunPython(number_existing, migrations.RunPython.noop),
    ]
