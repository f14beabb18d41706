# Voucher.application is now the reverse side of Application.voucher.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0002_application_voucher"),
        ("vouchers", "0018_remove_voucher_application"),
    ]

    operations = [
        migrations.AlterField(
            model_name="application",
            name="voucher",
            field=models.OneToOneField(
                blank=True,
                editable=False,
                help_text="The voucher issued for this application once it was approved.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="application",
                to="vouchers.voucher",
                verbose_name="voucher",
            ),
        ),
    ]
