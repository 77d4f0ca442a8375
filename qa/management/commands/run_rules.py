from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from qa.engine import RunResult, run_rule
from qa.models import CoachingRule


class Command(BaseCommand):
    help = (
        "Run coaching rules now over every agent of their area (all active rules, or --rule ID). "
        "Safe beside the workers and the sweep, and to run again after it was stopped: it makes "
        "only the suggestions still missing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rule", type=int, default=None, help="only this rule (its id)")

    def handle(self, *args: Any, rule: int | None = None, **options: Any) -> None:
        rules = CoachingRule.objects.order_by("id")
        if rule is not None:
            rules = rules.filter(pk=rule)
            found = rules.first()
            if found is None:
                raise CommandError(f"There is no coaching rule with id {rule}.")
            if not found.active:
                raise CommandError(f"The coaching rule {found.name} (id {rule}) is not active.")
        else:
            rules = rules.filter(active=True)
        total = 0
        for each in rules:
            self.stdout.write(f"rule {each.pk} ({each.name}):")

            def progress(result: RunResult) -> None:
                self.stdout.write(
                    f"  {result.created} made, {result.skipped} already open "
                    f"(of {result.firing} below the threshold)"
                )

            result = run_rule(each.pk, progress=progress)
            if result.error:
                self.stderr.write(f"  made nothing: {result.error}")
            self.stdout.write(
                f"  done: {result.firing} below the threshold, {result.created} suggestion(s) "
                f"made, {result.skipped} already had an open session"
            )
            total += result.created
        self.stdout.write(f"run_rules: {total} suggestion(s) made")
