"""Celery tasks of the audit log: seal, sign checkpoints, verify nightly.

Each task is idempotent: sealing twice seals nothing new, a checkpoint is
only signed when the log grew, verification only reads.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Membership

from . import events
from .services import Actor, audit_checkpoint_create, audit_record, audit_seal_pending
from .verification import VerificationResult, audit_verify


@shared_task(name="audit.seal", ignore_result=True)
def audit_seal(full_scan: bool = False) -> int:
    """Seal the events committed since the last run."""
    return audit_seal_pending(full_scan=full_scan)


@shared_task(name="audit.checkpoint", ignore_result=True)
def audit_checkpoint() -> int | None:
    """Seal everything pending (a full scan), then sign the tree head."""
    audit_seal_pending(full_scan=True)
    checkpoint = audit_checkpoint_create()
    return checkpoint.pk if checkpoint else None


def auditors() -> list[Any]:
    """Active users who hold the auditor role in some district."""
    return list(
        get_user_model()
        .objects.filter(is_active=True, memberships__role=Membership.Role.AUDITOR)
        .distinct()
        .order_by("email")
    )


def notify_auditors(result: VerificationResult) -> int:
    """E-mail every auditor, each in their own language; return how many."""
    sent = 0
    for user in auditors():
        with translation.override(user.preferred_language):
            subject = _("Audit log verification failed")
            body = _(
                "The nightly verification of the audit log found a mismatch.\n\n"
                "%(problem)s\n\n"
                "Sealed events checked before the mismatch: %(sealed)s.\n"
                "Run 'python manage.py verify_audit' to see it again, and compare "
                "the published checkpoints."
            ) % {"problem": result.problem, "sealed": result.sealed}
        sent += send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return sent


@shared_task(name="audit.verify_nightly", ignore_result=True)
def audit_verify_nightly() -> dict[str, Any]:
    """Verify the whole log; when it fails, record that and alert the auditors."""
    audit_seal_pending(full_scan=True)
    result = audit_verify()
    if not result.ok:
        with transaction.atomic():
            audit_record(
                actor=Actor.system("audit.verify_nightly"),
                event_type=events.AUDIT_VERIFICATION_FAILED,
                obj=None,
                object_type="audit.auditevent",
                object_id=str(result.event_id or ""),
                note=result.problem,
            )
        notify_auditors(result)
    return {"ok": result.ok, "sealed": result.sealed, "problem": result.problem}


@shared_task(name="audit.detect_anomalies", ignore_result=True)
def audit_detect_anomalies(day: str | None = None, days: int = 1) -> list[int]:
    """Run the anomaly detectors over yesterday (or ``day``, ISO date); return
    the ids of the new flags. Idempotent: a second run flags nothing new."""
    import datetime

    from .flags import anomalies_detect

    report = anomalies_detect(
        day=datetime.date.fromisoformat(day) if day else None,
        days=days,
        actor=Actor.system("audit.detect_anomalies"),
    )
    return [flag.pk for flag in report.created]
