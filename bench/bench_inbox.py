"""Notification inbox: notifications_for (all and unread, pages of 20 and 100) and unread_count,
for the user with the most notifications and for a typical one.

    .venv/bin/python bench/bench_inbox.py --scale 50000 [--db sqlite]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> None:
    args = common.parser(__doc__ or "").parse_args()
    info = common.setup(args)
    from django.db.models import Count

    from directory.models import User
    from notifications.models import Notification
    from notifications.services import notifications_for, unread_count

    # Set-up only (not measured): who has the most notifications, and a median recipient.
    per_user = list(
        Notification.objects.values("recipient_id")
        .annotate(n=Count("id"))
        .order_by("-n", "recipient_id")
        .values_list("recipient_id", "n")
    )
    users = {
        "busiest inbox": per_user[0],
        "typical inbox": per_user[len(per_user) // 2],
    }
    rows: list[dict[str, Any]] = []
    plans: dict[str, str] = {}
    for who, (uid, total) in users.items():
        user = User.objects.get(pk=uid)
        unread = unread_count(user)
        checks = [
            ("inbox, page 20", lambda u=user: list(notifications_for(u)[:20]), None),
            ("inbox, page 100", lambda u=user: list(notifications_for(u)[:100]), None),
            (
                "unread only, page 20",
                lambda u=user: list(notifications_for(u, unread_only=True)[:20]),
                None,
            ),
            ("unread_count", lambda u=user: unread_count(u), None),
        ]
        for name, fn, _ in checks:
            queries, _sql = common.count_queries(fn)
            timing = common.measure(fn, seconds=args.seconds)
            rows.append(
                {
                    "user": who,
                    "notifications": total,
                    "unread": unread,
                    "read": name,
                    "queries": queries,
                    **timing,
                }
            )
            print(f"{who:14} {name:22} {timing['median_ms']:8.2f} ms median, {queries} queries")
        for name, qs in [
            ("inbox, page 20", notifications_for(user)[:20]),
            ("unread only, page 20", notifications_for(user, unread_only=True)[:20]),
        ]:
            plans[f"{who}: {name}"] = common.explain(qs)
        from notifications.models import Notification as N

        count_qs = N.objects.filter(recipient=user, read_at__isnull=True)
        # unread_count() runs exactly this COUNT; EXPLAIN it through the same filter.
        plans[f"{who}: unread_count"] = common.explain(count_qs.values("id"))
    for row in rows:
        key = f"{row['user']}: {row['read']}"
        if key in plans:
            row["seq_scans"] = ", ".join(common.seq_scans(plans[key])) or "none"
    path = common.save("inbox", info, rows, extra={"plans": plans})
    path.with_suffix(".plans.txt").write_text(
        "\n\n".join(f"### {k}\n{v}" for k, v in plans.items()) + "\n"
    )
    print()
    print(
        common.table(
            rows,
            [
                "user",
                "notifications",
                "unread",
                "read",
                "median_ms",
                "p95_ms",
                "queries",
                "seq_scans",
            ],
        )
    )
    print(f"\npeak RSS {common.peak_rss_mib():,.0f} MiB; results in {path}")


if __name__ == "__main__":
    main()
