# The link between an application and its voucher moves to the application
# (foreign keys point down: applications -> vouchers). The column is added
# here, filled from vouchers_voucher.application_id, and that old column is
# dropped by vouchers 0018, which runs after this one; applications 0003
# then names the reverse accessor Voucher.application.

import django.db.models.deletion
from django.db import migrations, models


def copy_links(apps, schema_editor):
    Voucher = apps.get_model("vouchers", "Voucher")
    Application = apps.get_model("applications", "Application")
    for voucher_id, application_id in Voucher.objects.filter(
        application__isnull=False
    ).values_list("id", "application_id"):
        Application.objects.filter(pk=application_id).update(voucher_id=voucher_id)


def copy_links_back(apps, schema_editor):
    Voucher = apps.get_model("vouchers", "Voucher")
    Application = apps.get_model("applications", "Application")
    for application_id, voucher_id in Application.objects.filter(
        voucher__isnull=False
    ).values_list("id", "voucher_id"):
        Voucher.objects.filter(pk=voucher_id).update(application_id=application_id)


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0001_initial"),
        ("vouchers", "0017_hold_and_redemption_status_state_machines"),
    ]

    operations = [
        migrations.AddField(
            model_name="application",
            name="voucher",
            field=models.OneToOneField(
                blank=True,
                editable=False,
                help_text="The voucher issued for this application once it was approved.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                # No reverse accessor yet: Voucher.application is still the
                # old field until vouchers 0018; 0003 gives it its name.
                related_name="+",
                to="vouchers.voucher",
                verbose_name="voucher",
            ),
        ),
        migrations.RunPython(copy_links, copy_links_back),
    ]
