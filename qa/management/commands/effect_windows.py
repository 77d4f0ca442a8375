from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from qa.effect import refresh_effect_windows
from qa.models import EffectWindow


class Command(BaseCommand):
    help = (
        "Recompute the stored coaching-effect windows of every completed session from the "
        "evaluations as they are now (after evaluations were written outside the ingest, or to "
        "fill the table once). Idempotent; safe beside the workers."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        refresh_effect_windows()
        self.stdout.write(f"{EffectWindow.objects.count()} (session, trainee) windows stored.")
