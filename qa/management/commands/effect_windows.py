from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from qa.effect import refresh_effect_windows, stale_effect_windows
from qa.models import EffectWindow


class Command(BaseCommand):
    help = (
        "Recompute the stored coaching-effect windows of every completed session from the "
        "evaluations as they are now (after evaluations were written outside the ingest, or to "
        "fill the table once). Idempotent; safe beside the workers."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="only compare the stored windows with a recomputation (exit 1 when they differ)",
        )

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        if check:
            stale = stale_effect_windows()
            if stale:
                raise CommandError(
                    f"{len(stale)} stored windows differ from a recomputation (first: session "
                    f"{stale[0][0]}, agent {stale[0][1]}); run manage.py effect_windows."
                )
            self.stdout.write("The stored windows are up to date.")
            return
        refresh_effect_windows()
        self.stdout.write(f"{EffectWindow.objects.count()} (session, trainee) windows stored.")
