"""The audit log's periodic tasks, as django-celery-beat rows.

Sealing runs every few seconds (the bound on how long an event waits for its
seal when no commit triggered it), checkpoints every ten minutes, and the
full verification every night at 02:30 China time.
"""

from __future__ import annotations

from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

SEAL_EVERY_SECONDS = 10
CHECKPOINT_EVERY_MINUTES = 10


def install_schedule() -> list[tuple[str, bool]]:
    """Create or bring up to date the periodic tasks; return (name, created) pairs."""
    seal_interval, _ = IntervalSchedule.objects.get_or_create(
        every=SEAL_EVERY_SECONDS, period=IntervalSchedule.SECONDS
    )
    checkpoint_interval, _ = IntervalSchedule.objects.get_or_create(
        every=CHECKPOINT_EVERY_MINUTES, period=IntervalSchedule.MINUTES
    )
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Shanghai",
    )
    rows = [
        ("audit: seal committed events", "audit.seal", {"interval": seal_interval}),
        ("audit: sign checkpoint", "audit.checkpoint", {"interval": checkpoint_interval}),
        ("audit: nightly verification", "audit.verify_nightly", {"crontab": nightly}),
    ]
    done = []
    for name, task, schedule in rows:
        wanted = {
            "task": task,
            "interval": schedule.get("interval"),
            "crontab": schedule.get("crontab"),
            "enabled": True,
        }
        existing = PeriodicTask.objects.filter(name=name).first()
        if existing is None:
            PeriodicTask.objects.create(name=name, **wanted)
            done.append((name, True))
            continue
        # Saving a PeriodicTask makes beat reload its schedule; save only
        # when something differs, so running this twice changes nothing.
        if any(getattr(existing, field) != value for field, value in wanted.items()):
            for field, value in wanted.items():
                setattr(existing, field, value)
            existing.save()
        done.append((name, False))
    return done
