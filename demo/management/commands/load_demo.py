from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.loader import PASSWORD, USERS, load


class Command(BaseCommand):
    help = "Load the demo organisation (idempotent). Every demo user's password is 'demo'."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="load even though DEBUG is off (the demo users have a known password)",
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off, so this looks like a production database; the demo users all have the "
                "password 'demo'. Run with --force to load them anyway."
            )
        added = load(say=lambda m: self.stdout.write(f"  {m}"))
        total = sum(added.values())
        if total:
            self.stdout.write(
                self.style.SUCCESS(
                    "Demo organisation loaded: "
                    + ", ".join(f"{v} {k}" for k, v in added.items() if v)
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS("Demo organisation already loaded; nothing changed.")
            )
        self.stdout.write(
            f"Log in as any of: {', '.join(u[0] for u in USERS)} (password: {PASSWORD})"
        )
