"""Create the demo data of the seeds (idempotent): ``manage.py seed_demo [--json]
[--demo-keys DIR]``."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from demo.seed import seed
from demo.seed_platforms import seed_demo_keys
from vouchers.models import Voucher


def lookup_example(directory: Path, result: dict[str, Any], keys: list[dict[str, Any]]) -> str:
    """A reference-client command that looks up an active demo voucher with a demo key
    of a platform the voucher's program is bound to."""
    keyed = [k["platform"] for k in keys]
    platform, code = (keyed[0] if keyed else "<platform-slug>"), "<voucher-code>"
    for voucher in result["vouchers"]:
        bound = [slug for slug in keyed if slug in voucher["platforms"]]
        if voucher["status"] == Voucher.Status.ACTIVE and bound:
            platform, code = bound[0], voucher["code"]
            break
    return shlex.join(
        [
            "python",
            "-m",
            "cv_client",
            "--demo-keys",
            str(directory),
            "--platform",
            platform,
            "lookup",
            code,
        ]
    )


class Command(BaseCommand):
    help = "Create (or bring up to date) the demo districts, programs, platforms, enterprises and users."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="Print what was made as JSON.")
        parser.add_argument(
            "--demo-keys",
            metavar="DIR",
            help=_(
                "Register a demo API key for each demo platform (reused on later runs) and "
                "write its private key to DIR/<slug>.pem and its key id to DIR/<slug>.key_id."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["json"]:
            # Notification e-mails of the seeded applications go to the
            # console backend's stdout: keep stdout for the JSON alone.
            with contextlib.redirect_stdout(sys.stderr):
                result = seed()
        else:
            result = seed()
        keys: list[dict[str, Any]] = []
        hint = ""
        if options.get("demo_keys"):
            directory = Path(options["demo_keys"])
            keys = seed_demo_keys(directory, [p["slug"] for p in result["platforms"]])
            result["demo_keys"] = keys
            # Also on each platform, for scripts that read them there.
            by_slug = {k["platform"]: k for k in keys}
            for platform in result["platforms"]:
                key = by_slug.get(platform["slug"])
                if key is not None:
                    platform["key_id"] = key["key_id"]
                    platform["private_key"] = key["private_key_file"]
            hint = _(
                "Demo API keys are in %(directory)s. With the server running, look up a "
                "voucher: %(command)s"
            ) % {
                "directory": directory.resolve(),
                "command": lookup_example(directory, result, keys),
            }
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
            if keys:
                # stdout stays pure JSON; the hint is for the person at the terminal.
                self.stderr.write(hint, style_func=lambda text: text)
            return
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
        self.stdout.write("")
        self.stdout.write("Logins (e-mail / password):")
        for login in result["logins"]:
            self.stdout.write(f"  {login['role']:<28} {login['email']:<40} {login['password']}")
        self.stdout.write("")
        self.stdout.write(
            "Officials and the superuser set up two-factor authentication (TOTP) at first login,"
            " platform operators before their first operator page."
        )
        if keys:
            self.stdout.write("")
            self.stdout.write("Demo API keys (key id / private key):")
            for key in keys:
                self.stdout.write(
                    f"  {key['platform']:<16} {key['key_id']}  {key['private_key_file']}"
                )
            self.stdout.write("")
            self.stdout.write(hint)
