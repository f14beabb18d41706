"""Register, revoke and list platform API keys.

``platform_key add <platform-slug> <public-key.pem> [--label L]`` prints the
new key id alone on its own line (so ``KEY_ID=$(manage.py platform_key add …)``
works); ``platform_key revoke <key-id>``; ``platform_key list <platform-slug>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.timezone import localtime

from accounts.models import ComputePlatform
from audit.services import Actor
from common.errors import BusinessError
from platforms import services
from platforms.models import PlatformKey
from platforms.selectors import platform_keys

ACTOR = Actor.system("manage.py platform_key")


class Command(BaseCommand):
    help = "Register (add), revoke or list the Ed25519 API keys of a compute platform."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Register a public key; prints the new key id.")
        add.add_argument("platform", help="The platform's slug.")
        add.add_argument("public_key", help="Path to the PEM public key ('-' for stdin).")
        add.add_argument("--label", default="", help="A note for humans (e.g. 'prod 2026').")
        revoke = sub.add_parser("revoke", help="Revoke a key by its key id.")
        revoke.add_argument("key_id")
        listing = sub.add_parser("list", help="List a platform's keys.")
        listing.add_argument("platform", help="The platform's slug.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "add":
            self._add(options["platform"], options["public_key"], options["label"])
        elif action == "revoke":
            self._revoke(options["key_id"])
        else:
            self._list(options["platform"])

    def _platform(self, slug: str) -> ComputePlatform:
        try:
            return ComputePlatform.objects.get(slug=slug)
        except ComputePlatform.DoesNotExist as exc:
            raise CommandError(f"No platform with slug {slug!r}.") from exc

    def _add(self, slug: str, path: str, label: str) -> None:
        platform = self._platform(slug)
        try:
            if path == "-":
                import sys

                pem = sys.stdin.read()
            else:
                pem = Path(path).read_text(encoding="ascii", errors="replace")
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
        try:
            key = services.platform_key_register(
                actor=ACTOR, platform=platform, public_key_pem=pem, label=label
            )
        except BusinessError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(key.key_id)

    def _revoke(self, key_id: str) -> None:
        key = PlatformKey.objects.filter(key_id=key_id).first()
        if key is None:
            raise CommandError(f"No key with id {key_id!r}.")
        try:
            key = services.platform_key_revoke(actor=ACTOR, key=key)
        except BusinessError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(
            f"revoked {key.key_id} at {localtime(key.revoked_at):%Y-%m-%d %H:%M:%S %z}"
        )

    def _list(self, slug: str) -> None:
        platform = self._platform(slug)
        keys = list(platform_keys(platform))
        if not keys:
            self.stdout.write(f"{slug}: no keys")
            return
        for key in keys:
            state = (
                f"revoked {localtime(key.revoked_at):%Y-%m-%d %H:%M}"
                if key.revoked_at
                else "active"
            )
            self.stdout.write(
                f"{key.key_id}\t{state}\tregistered {localtime(key.created_at):%Y-%m-%d %H:%M}"
                f"\t{key.fingerprint}\t{key.label}"
            )
