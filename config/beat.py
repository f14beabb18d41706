"""The beat schedule: every periodic task of every app, in one place.

``manage.py setup_periodic_tasks`` writes these rows into django-celery-beat
(whose DatabaseScheduler the one beat process reads); settings hand them to
it as ``PERIODIC_TASKS``, so no app imports another to be scheduled. Tasks
are named by their Celery task name, which never changes when code moves
between apps. Each key is the row's name in django-celery-beat: it is how an
existing row is found again, so a key is never renamed.

A row runs on an ``interval`` (every, period) or a ``crontab`` (minute,
hour, day_of_week, day_of_month, month_of_year; "*" when left out). Crontab
times are in ``CELERY_TIMEZONE`` (Asia/Shanghai).
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class Crontab(TypedDict, total=False):
    minute: str
    hour: str
    day_of_week: str
    day_of_month: str
    month_of_year: str


class Periodic(TypedDict):
    task: str
    interval: NotRequired[tuple[int, Literal["seconds", "minutes", "hours", "days"]]]
    crontab: NotRequired[Crontab]


PERIODIC_TASKS: dict[str, Periodic] = {
    # The audit log: sealing bounds how long an event waits for its seal when
    # no commit triggered one; checkpoints sign the tree head; the night's
    # verification reads the whole log.
    "audit: seal committed events": {"task": "audit.seal", "interval": (10, "seconds")},
    "audit: sign checkpoint": {"task": "audit.checkpoint", "interval": (10, "minutes")},
    "audit: nightly verification": {
        "task": "audit.verify_nightly",
        "crontab": {"minute": "30", "hour": "2"},
    },
    # Anomaly detection, after the night's usage is in.
    "audit: daily anomaly detection": {
        "task": "audit.detect_anomalies",
        "crontab": {"minute": "30", "hour": "4"},
    },
    # Vouchers and programs.
    "Activate vouchers at valid-from": {
        "task": "vouchers.activate_due",
        "crontab": {"minute": "*/5"},
    },
    "Expire vouchers at expiry": {"task": "vouchers.expire_due", "crontab": {"minute": "*/5"}},
    "Release expired holds": {"task": "vouchers.release_expired_holds", "crontab": {"minute": "*"}},
    "Step programs through their phase-down": {
        "task": "vouchers.step_programs",
        "crontab": {"minute": "5", "hour": "0"},
    },
    "Voucher reminders": {
        "task": "vouchers.send_reminders",
        "crontab": {"minute": "0", "hour": "9"},
    },
    # Settlements: each ended period's statements, soon after midnight in
    # Shanghai (the period ends there) and every hour after, for late lines.
    "settlements: draw ended periods": {
        "task": "settlements.draw",
        "crontab": {"minute": "3"},
    },
    # Receivables of clawbacks: reminders of their due dates (each once), in
    # the morning in Shanghai like the vouchers' reminders.
    "settlements: remind receivables": {
        "task": "settlements.receivables_remind",
        "crontab": {"minute": "10", "hour": "9"},
    },
    # The platform API: signature nonces past their signature's expiry, and
    # idempotency records past their 24 hours.
    "platforms: prune signature nonces": {
        "task": "platforms.nonce_prune",
        "crontab": {"minute": "17"},
    },
    "platforms: prune idempotency records": {
        "task": "platforms.idempotency_prune",
        "crontab": {"minute": "47", "hour": "3"},
    },
}
