"""Holds and redemptions move through their state machines (django-fsm).

Only the field class changes in the migration state: the column stays a
varchar(20) with the same values, so no SQL runs.
"""

import django_fsm
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("vouchers", "0016_programs_and_applications_move_out"),
    ]

    operations = [
        migrations.AlterField(
            model_name="hold",
            name="status",
            field=django_fsm.FSMField(
                choices=[
                    ("open", "Open"),
                    ("captured", "Captured"),
                    ("released", "Released"),
                    ("expired", "Released at expiry"),
                ],
                default="open",
                max_length=20,
                protected=True,
                verbose_name="status",
            ),
        ),
        migrations.AlterField(
            model_name="redemption",
            name="status",
            field=django_fsm.FSMField(
                choices=[
                    ("captured", "Captured"),
                    ("partially_reversed", "Partly reversed"),
                    ("reversed", "Reversed"),
                ],
                default="captured",
                max_length=20,
                protected=True,
                verbose_name="status",
            ),
        ),
    ]
