"""Writes: notification fan-out to a 50-member coach group (session_suggest), the expiry sweep
(expire_due_suggestions on N due suggestions) and e-mail delivery with the locmem backend
(drain_tasks). Changes the benchmark database: run it after the read benchmarks.

    .venv/bin/python bench/bench_writes.py --scale 50000 [--db sqlite] [--due 2000]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> None:
    p = common.parser(__doc__ or "")
    p.add_argument("--due", type=int, default=1000, help="due suggestions to add and expire")
    p.add_argument("--fanouts", type=int, default=20, help="suggestions to a 50-member group")
    p.add_argument("--max-emails", type=int, default=1500, help="stop delivering after this many")
    args = p.parse_args()
    info = common.setup(args)
    from django.core import mail
    from django.db import connection
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from coaching.models import CoachingSession, State
    from coaching.rules import SessionFields
    from coaching.services import expire_due_suggestions, session_suggest
    from core.testing import drain_tasks
    from demo.largeorg import add_due_suggestions
    from directory.models import CoachingArea, User, UserGroup, UserGroupMembership
    from directory.parties import PartyRef
    from notifications.models import EmailStatus, Notification

    rows: list[dict[str, Any]] = []
    mail.outbox = []

    # --- fan-out ------------------------------------------------------------------------------
    author = User.objects.filter(username__startswith="lo.supervisor.").order_by("pk").first()
    trainee = User.objects.filter(username__startswith="lo.agent.", is_active=True).order_by("pk")[
        5
    ]
    group, created = UserGroup.objects.get_or_create(name="Bench fan-out 50")
    if created:
        members = list(
            User.objects.filter(username__startswith="lo.coach.", is_active=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:50]
        )
        UserGroupMembership.objects.bulk_create(
            [UserGroupMembership(group=group, user_id=m) for m in members]
        )
    area = CoachingArea.objects.order_by("pk").first()
    assert author and area

    def suggest() -> CoachingSession:
        return session_suggest(
            actor=User.objects.get(pk=author.pk),
            fields=SessionFields(
                title="Bench fan-out",
                coach=PartyRef.of(group),
                trainees=[PartyRef.of(trainee)],
                coaching_area_id=area.pk,
            ),
        )

    queries, _ = common.count_queries(suggest)
    times = []
    for _ in range(args.fanouts):
        t0 = time.perf_counter()
        s = suggest()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    notified = Notification.objects.filter(session=s).count()
    rows.append(
        {
            "operation": "session_suggest to a 50-member coach group",
            "n": args.fanouts,
            "median_ms": times[len(times) // 2],
            "p95_ms": times[min(len(times) - 1, round(0.95 * len(times)) - 1)],
            "queries": queries,
            "rate": f"{notified} notifications + {notified} e-mail tasks per suggestion",
        }
    )
    print(
        f"fan-out: {times[len(times) // 2]:.1f} ms median, {queries} queries, {notified} notified"
    )

    # --- e-mail delivery of the fan-out notifications ----------------------------------------
    def deliver(label: str, limit: int) -> None:
        pending = DBTaskResult.objects.ready().count()
        t0 = time.perf_counter()
        before = len(mail.outbox)
        ran = drain_tasks(max_tasks=limit)
        elapsed = time.perf_counter() - t0
        sent = len(mail.outbox) - before
        rows.append(
            {
                "operation": label,
                "n": ran,
                "median_ms": elapsed * 1000 / max(ran, 1),
                "p95_ms": "",
                "queries": "",
                "rate": f"{ran / elapsed:,.0f} tasks/s, {sent:,} e-mails sent ({pending:,} were due)",
            }
        )
        print(f"{label}: {ran} tasks in {elapsed:.1f} s ({ran / elapsed:,.0f}/s), {sent} e-mails")

    deliver("e-mail delivery (drain_tasks, locmem) after the fan-outs", args.max_emails)

    # --- expiry sweep -------------------------------------------------------------------------
    add_due_suggestions(args.due, say=lambda m: None)
    now = timezone.now()
    due = CoachingSession.objects.filter(state=State.SUGGESTED, expires_at__lte=now).count()
    t0 = time.perf_counter()
    expired = expire_due_suggestions(now=now)
    elapsed = time.perf_counter() - t0
    rows.append(
        {
            "operation": "expire_due_suggestions",
            "n": expired,
            "median_ms": elapsed * 1000 / max(expired, 1),
            "p95_ms": "",
            "queries": "",
            "rate": f"{expired / elapsed:,.0f} sessions/s ({due:,} were due)",
        }
    )
    print(f"expiry: {expired} sessions in {elapsed:.1f} s ({expired / elapsed:,.0f}/s)")
    # One expiry's queries, for the record.
    one = add_due_suggestions(1, seed=99, say=lambda m: None)
    q_one, _ = common.count_queries(lambda: expire_due_suggestions(now=timezone.now()))
    rows[-1]["queries"] = f"{q_one} per run expiring {one}"

    deliver("e-mail delivery (drain_tasks, locmem) after the sweep", args.max_emails)
    left = Notification.objects.filter(email_status=EmailStatus.PENDING).count()
    path = common.save("writes", info, rows, extra={"pending_emails_left": left})
    print()
    print(common.table(rows, ["operation", "n", "median_ms", "p95_ms", "queries", "rate"]))
    print(
        f"\n{left:,} e-mails still pending (capped by --max-emails); peak RSS "
        f"{common.peak_rss_mib():,.0f} MiB; results in {path} ({connection.vendor})"
    )


if __name__ == "__main__":
    main()
