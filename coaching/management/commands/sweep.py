from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from coaching.reminders import send_due_reminders
from coaching.services import expire_due_suggestions
from notifications.delivery import sweep_email


class Command(BaseCommand):
    help = (
        "Expire suggestions whose Expiry Time has passed, send reminders whose task is late, and "
        "tidy e-mail delivery. Safe to run "
        "from cron and from several machines at once. --every N keeps running every N seconds."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds (0: once)")

    def handle(self, *args: Any, every: int = 0, **options: Any) -> None:
        while True:
            expired = expire_due_suggestions(
                progress=lambda n: (
                    self.stdout.write(f"  expired {n} so far...")
                    if options["verbosity"] > 1
                    else None
                )
            )
            reminded = send_due_reminders()
            mail = sweep_email()
            if (
                expired
                or reminded
                or mail["uncertain"]
                or mail["requeued"]
                or options["verbosity"] > 1
            ):
                self.stdout.write(
                    f"sweep: expired {expired} suggestion(s); sent {reminded} late reminder(s); "
                    f"e-mail: {mail['requeued']} re-queued, {mail['uncertain']} marked uncertain"
                )
            if not every:
                return
            time.sleep(every)
