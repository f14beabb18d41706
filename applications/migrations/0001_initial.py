# The applications app takes over its models from vouchers (tables kept).

from decimal import Decimal
from django.conf import settings
from django.db import migrations, models
import applications.models
import django.core.validators
import django.db.models.deletion
import django_fsm

from common.moves import move_content_types


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("vouchers", "0015_rule_set_versions_in_programs_and_applications"),
        ("accounts", "0004_district_code_in_force"),
        ("eligibility", "0004_rule_set_versions_guards"),
        ("programs", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The models moved between apps: tables, columns, indexes and
        # constraints stay exactly as they are; only Django's state changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ApplicationDocument',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('file', models.FileField(max_length=200, upload_to=applications.models.document_path, verbose_name='file')),
                        ('original_name', models.CharField(max_length=200, verbose_name='file name')),
                        ('content_type', models.CharField(max_length=50, verbose_name='content type')),
                        ('size', models.PositiveIntegerField(verbose_name='size (bytes)')),
                        ('sha256', models.CharField(max_length=64, verbose_name='SHA-256')),
                        ('uploaded_at', models.DateTimeField(auto_now_add=True, verbose_name='uploaded at')),
                    ],
                    options={
                        'verbose_name': 'supporting document',
                        'verbose_name_plural': 'supporting documents',
                        'db_table': 'vouchers_applicationdocument',
                        'ordering': ['uploaded_at'],
                    },
                ),
                migrations.CreateModel(
                    name='ApplicationEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('action', models.CharField(choices=[('created', 'Draft created'), ('submitted', 'Submitted'), ('resubmitted', 'Resubmitted'), ('withdrawn', 'Withdrawn'), ('review_started', 'Review started'), ('first_approval', 'First approval'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('returned', 'Returned for changes')], max_length=20, verbose_name='action')),
                        ('note', models.TextField(blank=True, verbose_name='note')),
                        ('amount', models.DecimalField(decimal_places=2, max_digits=16, null=True, verbose_name='amount')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='at')),
                        ('notified_at', models.DateTimeField(blank=True, null=True, verbose_name='applicant notified at')),
                    ],
                    options={
                        'verbose_name': 'application event',
                        'verbose_name_plural': 'application events',
                        'db_table': 'vouchers_applicationevent',
                        'ordering': ['created_at', 'pk'],
                    },
                ),
                migrations.CreateModel(
                    name='BulkIssuance',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('rows', models.JSONField(default=list, editable=False, verbose_name='rows')),
                        ('total', models.DecimalField(decimal_places=2, editable=False, max_digits=16, verbose_name='total')),
                        ('four_eyes_threshold', models.DecimalField(blank=True, decimal_places=2, editable=False, max_digits=16, null=True, verbose_name='second approval above')),
                        ('status', django_fsm.FSMField(choices=[('awaiting_second_approval', 'Awaiting second approval'), ('issued', 'Issued'), ('cancelled', 'Cancelled')], default='awaiting_second_approval', max_length=50, protected=True, verbose_name='status')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='uploaded at')),
                        ('decided_at', models.DateTimeField(blank=True, null=True, verbose_name='decided at')),
                        ('decision_note', models.TextField(blank=True, verbose_name='note')),
                    ],
                    options={
                        'verbose_name': 'bulk issuance',
                        'verbose_name_plural': 'bulk issuances',
                        'db_table': 'vouchers_bulkissuance',
                        'ordering': ['-created_at'],
                    },
                    bases=(django_fsm.FSMModelMixin, models.Model),
                ),
                migrations.CreateModel(
                    name='Application',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('requested_amount', models.DecimalField(decimal_places=2, max_digits=16, validators=[django.core.validators.MinValueValidator(Decimal('0.01'))], verbose_name='requested amount')),
                        ('approved_amount', models.DecimalField(blank=True, decimal_places=2, max_digits=16, null=True, verbose_name='approved amount')),
                        ('purpose', models.TextField(verbose_name='purpose and usage scenario')),
                        ('status', django_fsm.FSMField(choices=[('draft', 'Draft'), ('submitted', 'Submitted'), ('under_review', 'Under review'), ('awaiting_second_approval', 'Awaiting second approval'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('returned', 'Returned for changes'), ('withdrawn', 'Withdrawn')], default='draft', max_length=50, protected=True, verbose_name='status')),
                        ('eligibility_decision', models.JSONField(blank=True, editable=False, null=True, verbose_name='eligibility decision (frozen at submission)')),
                        ('first_approved_at', models.DateTimeField(blank=True, null=True, verbose_name='first approval at')),
                        ('review_started_at', models.DateTimeField(blank=True, null=True, verbose_name='review started at')),
                        ('four_eyes_threshold', models.DecimalField(blank=True, decimal_places=2, editable=False, max_digits=16, null=True, verbose_name='second approval above (frozen at review)')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                        ('submitted_at', models.DateTimeField(blank=True, null=True, verbose_name='submitted at')),
                        ('decided_at', models.DateTimeField(blank=True, null=True, verbose_name='decided at')),
                        ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by')),
                        ('enterprise', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='applications', to='accounts.enterprise', verbose_name='enterprise')),
                        ('first_approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='first approval by')),
                    ],
                    options={
                        'verbose_name': 'application',
                        'verbose_name_plural': 'applications',
                        'db_table': 'vouchers_application',
                        'ordering': ['-created_at'],
                    },
                    bases=(django_fsm.FSMModelMixin, models.Model),
                ),
                migrations.AddField(
                    model_name='application',
                    name='program',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='applications', to='programs.program', verbose_name='program'),
                ),
                migrations.AddField(
                    model_name='application',
                    name='rule_set',
                    field=models.ForeignKey(blank=True, editable=False, help_text='The rule set version in force in the program when the application was submitted.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='applications', to='eligibility.ruleset', verbose_name='eligibility rules decided under'),
                ),
                migrations.AddField(
                    model_name='applicationdocument',
                    name='application',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='documents', to='applications.application', verbose_name='application'),
                ),
                migrations.AddField(
                    model_name='applicationdocument',
                    name='uploaded_by',
                    field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='uploaded by'),
                ),
                migrations.AddField(
                    model_name='applicationevent',
                    name='actor',
                    field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='by'),
                ),
                migrations.AddField(
                    model_name='applicationevent',
                    name='application',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='applications.application', verbose_name='application'),
                ),
                migrations.AddField(
                    model_name='bulkissuance',
                    name='created_by',
                    field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='uploaded by'),
                ),
                migrations.AddField(
                    model_name='bulkissuance',
                    name='decided_by',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='confirmed or cancelled by'),
                ),
                migrations.AddField(
                    model_name='bulkissuance',
                    name='program',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='bulk_issuances', to='programs.program', verbose_name='program'),
                ),
                migrations.AddConstraint(
                    model_name='application',
                    constraint=models.UniqueConstraint(condition=models.Q(('status__in', ['draft', 'submitted', 'under_review', 'awaiting_second_approval', 'approved', 'returned'])), fields=('enterprise', 'program'), name='application_one_live_per_program'),
                ),
                migrations.AddConstraint(
                    model_name='application',
                    constraint=models.CheckConstraint(condition=models.Q(('requested_amount__gt', 0)), name='application_requested_positive'),
                ),
                migrations.AddConstraint(
                    model_name='application',
                    constraint=models.CheckConstraint(condition=models.Q(('approved_amount__isnull', True), ('approved_amount__gt', 0), _connector='OR'), name='application_approved_positive'),
                ),
                migrations.AddConstraint(
                    model_name='applicationdocument',
                    constraint=models.UniqueConstraint(fields=('application', 'sha256'), name='application_document_content_once'),
                ),
                migrations.AddConstraint(
                    model_name='bulkissuance',
                    constraint=models.CheckConstraint(condition=models.Q(('total__gt', 0)), name='bulk_issuance_total_positive'),
                ),
                migrations.AddConstraint(
                    model_name='bulkissuance',
                    constraint=models.CheckConstraint(condition=models.Q(('status', 'awaiting_second_approval'), ('decided_at__isnull', False), _connector='OR'), name='bulk_issuance_decided_when_not_waiting'),
                ),
    
            ],
            database_operations=[],
        ),
        move_content_types(
            "vouchers",
            "applications",
            ["application", "applicationdocument", "applicationevent", "bulkissuance"],
        ),
    ]
