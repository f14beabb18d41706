"""``manage.py detect_anomalies [--date YYYY-MM-DD] [--days N]``: run the
anomaly detectors (the daily task's service) and print the new flags."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import Actor
from oversight.detectors import flag_summary
from oversight.flags import anomalies_detect


class Command(BaseCommand):
    help = "Run the anomaly detectors over a period and print what they flagged."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", help="Last day of the period (YYYY-MM-DD, China time); default yesterday."
        )
        parser.add_argument(
            "--days", type=int, default=1, help="Length of the period in days (default 1)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        day = None
        if options["date"]:
            try:
                day = datetime.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date {options['date']!r} is not YYYY-MM-DD.") from exc
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        report = anomalies_detect(
            day=day, days=options["days"], actor=Actor.system("manage.py detect_anomalies")
        )
        period = report.period
        self.stdout.write(
            f"Period {period.start} – {period.end}: {len(report.created)} new flag(s), "
            f"{report.already_flagged} already flagged."
        )
        for flag in report.created:
            self.stdout.write(
                f"#{flag.pk} {flag.detector} district={flag.district_id} {flag.subject} "
                f"[{flag.period_start} – {flag.period_end}] score={flag.score.normalize():f}: "
                f"{flag_summary(flag)}"
            )
