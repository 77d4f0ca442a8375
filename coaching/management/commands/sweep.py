from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection

from coaching.reminders import send_due_reminders
from coaching.services import expire_due_suggestions
from notifications.delivery import sweep_email
from qa.engine import sweep_rules

log = logging.getLogger("coaching.sweep")


class Command(BaseCommand):
    help = (
        "Expire suggestions whose Expiry Time has passed, send reminders whose task is late, and "
        "tidy e-mail delivery; once a day, run every active coaching rule over its area. Safe to run "
        "from cron and from several machines at once. --every N keeps running every N seconds; "
        "a pass that fails (the database away for a moment) is logged and the next one runs."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds (0: once)")
        parser.add_argument(
            "--passes", type=int, default=0, help="with --every: stop after N passes (0: never)"
        )

    def handle(self, *args: Any, every: int = 0, passes: int = 0, **options: Any) -> None:
        done = 0
        while True:
            done += 1
            if not every:
                self.sweep_once(options["verbosity"])  # from cron: a failure is the exit status
                return
            try:
                self.sweep_once(options["verbosity"])
            except Exception:
                log.exception("sweep: pass %s failed; the next one runs in %s s", done, every)
                # A connection the failure left broken is replaced before the next pass.
                connection.close_if_unusable_or_obsolete()
            if passes and done >= passes:
                return
            time.sleep(every)

    def sweep_once(self, verbosity: int) -> None:
        expired = expire_due_suggestions(
            progress=lambda n: (
                self.stdout.write(f"  expired {n} so far...") if verbosity > 1 else None
            )
        )
        reminded = send_due_reminders()
        mail = sweep_email()
        self.sweep_rules(verbosity)
        if expired or reminded or mail["uncertain"] or mail["requeued"] or verbosity > 1:
            self.stdout.write(
                f"sweep: expired {expired} suggestion(s); sent {reminded} late reminder(s); "
                f"e-mail: {mail['requeued']} re-queued, {mail['uncertain']} marked uncertain"
            )

    def sweep_rules(self, verbosity: int) -> None:
        """Once per UTC day, whichever sweeper comes first (each rule is claimed by one)."""
        results = sweep_rules()
        if results or verbosity > 1:
            made = sum(r.created for r in results)
            self.stdout.write(
                f"sweep: {len(results)} coaching rule(s) swept today, {made} suggestion(s) made"
            )
