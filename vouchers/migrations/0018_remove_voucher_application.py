# The voucher no longer names its application: the application names its
# voucher (applications 0002 copied every link before this drops the column).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("vouchers", "0017_hold_and_redemption_status_state_machines"),
        ("applications", "0002_application_voucher"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="voucher",
            name="application",
        ),
    ]
