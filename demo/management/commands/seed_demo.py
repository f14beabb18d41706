"""Create the demo data of the seeds (idempotent): ``manage.py seed_demo [--json]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from demo.seed import seed
from demo.seed_platforms import seed_demo_keys


class Command(BaseCommand):
    help = "Create (or bring up to date) the demo districts, programs, platforms, enterprises and users."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="Print what was made as JSON.")
        parser.add_argument(
            "--demo-keys",
            metavar="DIR",
            help="Register a demo API key for each demo platform and write the private keys "
            "(<slug>.pem) and key ids (<slug>.key_id) to DIR.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed()
        if options.get("demo_keys"):
            keys = seed_demo_keys(
                Path(options["demo_keys"]), [p["slug"] for p in result["platforms"]]
            )
            by_slug = {k["slug"]: k for k in keys}
            for platform in result["platforms"]:
                platform.update(by_slug.get(platform["slug"], {}))
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
            return
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
        self.stdout.write("")
        self.stdout.write("Logins (e-mail / password):")
        for login in result["logins"]:
            self.stdout.write(f"  {login['role']:<28} {login['email']:<40} {login['password']}")
        self.stdout.write("")
        self.stdout.write(
            "Officials and the superuser set up two-factor authentication (TOTP) at first login."
        )
        if options.get("demo_keys"):
            self.stdout.write("")
            self.stdout.write("Demo API keys (key id / private key):")
            for platform in result["platforms"]:
                self.stdout.write(
                    f"  {platform['slug']:<16} {platform['key_id']}  {platform['private_key']}"
                )
