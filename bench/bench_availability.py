"""Conflicts and free slots at scale: the scheduling checks of `coaching/availability.py` for one
trainee and for a 500-member trainee group, in a quiet window (the coming month) and in the
densest month of the generated year.

    .venv/bin/python bench/bench_availability.py --scale 50000 [--db sqlite]

The 500 members are the 500 active agents with the most scheduled sessions, so the group is as
busy as the organisation allows. Each check is timed as the service or the API runs it (group
expansion included), its queries counted, and the attendee query's plan kept.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

GROUP = "Bench trainees 500"


def busy_group() -> Any:
    from django.db.models import Count

    from coaching.models import SessionAttendee
    from directory.models import User, UserGroup, UserGroupMembership

    group, created = UserGroup.objects.get_or_create(name=GROUP)
    if created:
        top = list(
            SessionAttendee.objects.filter(
                busy=True,
                role="trainee",
                user__is_active=True,
                user__username__startswith="lo.agent.",
            )
            .values("user_id")
            .annotate(n=Count("id"))
            .order_by("-n", "user_id")
            .values_list("user_id", flat=True)[:500]
        )
        if len(top) < 500:  # a small organisation: fill up with other agents
            top += list(
                User.objects.filter(username__startswith="lo.agent.", is_active=True)
                .exclude(pk__in=top)
                .order_by("pk")
                .values_list("pk", flat=True)[: 500 - len(top)]
            )
        UserGroupMembership.objects.bulk_create(
            [UserGroupMembership(group=group, user_id=uid) for uid in top]
        )
    return group


def densest_month() -> Any:
    """The start of the 31 days with the most busy attendee rows (by calendar month)."""
    from django.db.models import Count
    from django.db.models.functions import TruncMonth

    from coaching.models import SessionAttendee

    row = (
        SessionAttendee.objects.filter(busy=True)
        .annotate(m=TruncMonth("starts_at"))
        .values("m")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    assert row is not None, "no scheduled sessions generated"
    return row["m"], row["n"]


def main() -> None:
    args = common.parser(__doc__ or "").parse_args()
    info = common.setup(args)
    from django.db import connection
    from django.utils import timezone

    from coaching import availability
    from directory.models import User

    group = busy_group()
    coach = (
        User.objects.filter(username__startswith="lo.coach.").order_by("username").first()
    )  # the busiest coach
    assert coach is not None
    one = User.objects.filter(pk__in=group.memberships.values("user_id")).order_by("pk").first()
    assert one is not None
    dense_start, dense_rows = densest_month()
    now = timezone.now().replace(second=0, microsecond=0)
    windows = {"coming month": now, "densest month": dense_start}
    rows: list[dict[str, Any]] = []
    plans: list[str] = []

    def fresh(user: User) -> User:
        return User.objects.get(pk=user.pk)

    for window, start in windows.items():
        end = start + timedelta(days=31)
        probe = start + timedelta(days=3, hours=10)
        for label, users, groups in (("1 trainee", [one], []), ("500-member group", [], [group])):

            def people(users=users, groups=groups) -> list[int]:  # type: ignore[no-untyped-def]
                return availability.people_of(
                    coach=coach, trainee_users=users, trainee_groups=groups
                )

            ids = people()

            def conflicts(viewer: User, people=people, probe=probe) -> Any:  # type: ignore[no-untyped-def]
                return availability.clashes(viewer, people(), probe, probe + timedelta(hours=1))

            def slots(viewer: User, people=people, start=start, end=end) -> Any:  # type: ignore[no-untyped-def]
                return availability.free_slots(
                    coach=viewer,
                    user_ids=people(),
                    duration=timedelta(minutes=60),
                    start=start,
                    end=end,
                    now=start,
                    limit=10,
                )

            for check, fn in (
                ("conflict check (1 h)", conflicts),
                ("free slots (31 days, first 10)", slots),
            ):
                timing = common.measure(fn, prepare=lambda: fresh(coach), seconds=args.seconds)
                n_queries, _ = common.count_queries(lambda fn=fn: fn(fresh(coach)))
                result = fn(fresh(coach))
                busy_qs = availability.busy_rows(
                    ids,
                    probe if check.startswith("conflict") else start,
                    probe + timedelta(hours=1) if check.startswith("conflict") else end,
                )
                plan = common.explain(busy_qs)
                db_ms = None
                if connection.vendor == "postgresql":
                    for line in plan.splitlines():
                        if line.startswith("Execution Time:"):
                            db_ms = float(line.split()[2])
                plans.append(f"## {window} / {label} / {check}\n{plan}\n")
                rows.append(
                    {
                        "window": window,
                        "trainees": label,
                        "people": len(ids),
                        "check": check,
                        "busy rows": busy_qs.count(),
                        "found": len(result),
                        "median_ms": timing["median_ms"],
                        "p95_ms": timing["p95_ms"],
                        "attendee query db_ms": db_ms if db_ms is not None else "",
                        "queries": n_queries,
                        "seq scans": ", ".join(common.seq_scans(plan)) or "none",
                    }
                )
    path = common.save(
        "availability", info, rows, extra={"densest_month": str(dense_start), "rows": dense_rows}
    )
    path.with_suffix(".plans.txt").write_text("\n".join(plans))
    print(
        f"\n{info['vendor']}, {args.scale:,} agents; densest month {dense_start:%Y-%m} "
        f"({dense_rows:,} busy attendee rows)\n"
    )
    print(
        common.table(
            rows,
            [
                "window",
                "trainees",
                "people",
                "check",
                "busy rows",
                "found",
                "median_ms",
                "p95_ms",
                "attendee query db_ms",
                "queries",
                "seq scans",
            ],
        )
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
