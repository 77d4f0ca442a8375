from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from demo.largeorg import AlreadyGenerated, Sizes, generate, peak_rss_mib


class Command(BaseCommand):
    help = (
        "Generate a large contact-center organisation for the scale benchmarks: supervisors, "
        "coaches, agents, auditors, user groups, cases, evaluations, coaching sessions in every "
        "state, notifications. Writes in batches (COPY on PostgreSQL), in one transaction. Refuses "
        "to run twice on the same database. Generated users cannot log in (unusable password)."
    )

    def add_arguments(self, parser: Any) -> None:
        d = Sizes()
        parser.add_argument("--agents", type=int, default=d.agents, help=f"default {d.agents:,}")
        parser.add_argument("--groups", type=int, default=d.groups, help=f"default {d.groups:,}")
        parser.add_argument("--cases", type=int, default=d.cases, help=f"default {d.cases:,}")
        parser.add_argument(
            "--sessions", type=int, default=d.sessions, help=f"default {d.sessions:,}"
        )
        parser.add_argument(
            "--seed", type=int, default=d.seed, help="random seed (same seed, same org)"
        )

    def handle(self, *args: Any, **o: Any) -> None:
        sizes = Sizes(
            agents=o["agents"],
            groups=o["groups"],
            cases=o["cases"],
            sessions=o["sessions"],
            seed=o["seed"],
        )
        for name in ("agents", "groups", "cases", "sessions"):
            if getattr(sizes, name) < 1:
                raise CommandError(f"--{name} must be at least 1.")
        if sizes.agents < 50:
            raise CommandError("--agents must be at least 50 (groups have 5-50 members).")
        self.stdout.write(
            f"Generating: {sizes.agents:,} agents, {sizes.supervisors:,} supervisors, "
            f"{sizes.coaches:,} coaches, {sizes.auditors:,} auditors, {sizes.groups:,} groups, "
            f"{sizes.cases:,} cases, {sizes.sessions:,} sessions (seed {sizes.seed})"
        )
        try:
            counts = generate(sizes, say=self.stdout.write)
        except AlreadyGenerated as exc:
            self.stdout.write(self.style.WARNING(str(exc)))
            return
        self.stdout.write(
            self.style.SUCCESS(
                "Large organisation generated: "
                + ", ".join(f"{v:,} {k}" for k, v in counts.items())
                + f" (peak RSS {peak_rss_mib():,.0f} MiB)"
            )
        )
