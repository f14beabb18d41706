"""DetectorSettings and AnomalyFlag moved to the oversight app (issue 15).

State only: the tables (``audit_detectorsettings``, ``audit_anomalyflag``)
stay where they are, with their rows, indexes and constraints;
``oversight/0001`` takes the models over in the migration state, and
``oversight/0002`` moves their content types (so granted permissions follow).
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0005_leaner_write_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='AnomalyFlag'),
                migrations.DeleteModel(name='DetectorSettings'),
            ],
            database_operations=[],
        ),
    ]
