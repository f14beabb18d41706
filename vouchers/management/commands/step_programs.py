"""Record the phase-down steps that take effect and close programs at their exit."""

from typing import Any

from django.core.management.base import BaseCommand

from vouchers.periodic import programs_step_phase_down


class Command(BaseCommand):
    help = "Record the phase-down steps that take effect and close programs at their exit."

    def handle(self, *args: Any, **options: Any) -> None:
        report = programs_step_phase_down()
        self.stdout.write(f"stepped: {len(report.stepped)}, closed: {len(report.closed)}")
        for item in report.stepped:
            self.stdout.write(f"  step {item}")
        for item in report.closed:
            self.stdout.write(f"  closed program {item}")
