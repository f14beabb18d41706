"""Programs and applications name the rule set version they apply or were decided under.

Existing data keeps working: a draft rule set a program already uses is
published (it is what the program applies; from now on it never changes),
and every application already submitted records the version its program
has (the one it was decided under, since rule sets could not be versioned
before).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def freeze_what_is_in_use(apps, schema_editor):
    Program = apps.get_model("vouchers", "Program")
    Application = apps.get_model("vouchers", "Application")
    RuleSet = apps.get_model("eligibility", "RuleSet")
    in_use = Program.objects.filter(rule_set__isnull=False).values("rule_set")
    # update(), not save(): the status is a protected FSM field.
    RuleSet.objects.filter(pk__in=in_use, status="draft").update(
        status="published", published_at=timezone.now()
    )
    decided = Application.objects.filter(
        eligibility_decision__isnull=False, rule_set__isnull=True
    ).exclude(status="draft")
    for program_id, rule_set_id in Program.objects.filter(rule_set__isnull=False).values_list(
        "pk", "rule_set"
    ):
        decided.filter(program_id=program_id).update(rule_set_id=rule_set_id)


class Migration(migrations.Migration):

    dependencies = [
        ("eligibility", "0004_rule_set_versions_guards"),
        ("vouchers", "0014_separation_of_duties_four_eyes_frozen_and_bulk_batches"),
    ]

    operations = [
        migrations.AddField(
            model_name="application",
            name="rule_set",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                help_text=(
                    "The rule set version in force in the program when the application "
                    "was submitted."
                ),
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="applications",
                to="eligibility.ruleset",
                verbose_name="eligibility rules decided under",
            ),
        ),
        migrations.AlterField(
            model_name="program",
            name="rule_set",
            field=models.ForeignKey(
                blank=True,
                help_text=(
                    "A published version of one of the district's rule sets; it never "
                    "changes. A newer version applies only once the program adopts it. "
                    "Empty: every registered enterprise may apply."
                ),
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="programs",
                to="eligibility.ruleset",
                verbose_name="eligibility rules (version in force)",
            ),
        ),
        migrations.RunPython(freeze_what_is_in_use, migrations.RunPython.noop),
    ]
