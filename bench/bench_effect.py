"""The effect of coaching at scale: the coaching-effect report (both groupings) and one session's
effect, on the large organisation topped up to about a million evaluations.

    .venv/bin/python bench/bench_effect.py --scale 50000 [--evaluations 1000000] [--seconds 3]

The large organisation (`demo/largeorg.py`) has ~340,000 evaluations (from its cases) and ~64,000
completed sessions. `--evaluations` tops the table up to that many with evaluations without a
case (COPY, one transaction, a fixed seed: agents, areas and times uniformly over the generated
year, scores around 78), then VACUUM ANALYZE. Run twice, it adds nothing the second time.

Writes `bench/results/effect-<db>-<scale>.json` and prints Markdown (timings and EXPLAIN ANALYZE
of the report's three statements), which `bench/results/effect-postgresql.md` records.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

SEED = 20261201


def top_up(target: int, say=print) -> int:
    from django.db import connection, transaction
    from django.db.models import Max, Min

    from demo.largeorg import USERNAME_PREFIX
    from directory.models import CoachingArea, Evaluation, User

    have = Evaluation.objects.count()
    if have >= target:
        say(f"{have:,} evaluations already (target {target:,})")
        return 0
    rng = random.Random(SEED)
    agents = list(
        User.objects.filter(username__startswith=f"{USERNAME_PREFIX}agent.").values_list(
            "id", flat=True
        )
    )
    areas = list(CoachingArea.objects.values_list("id", flat=True))
    span = Evaluation.objects.aggregate(a=Min("evaluated_at"), b=Max("evaluated_at"))
    first, seconds = span["a"], int((span["b"] - span["a"]).total_seconds())
    next_id = (Evaluation.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    missing = target - have
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        columns = "id, source_id, agent_id, coaching_area_id, score, evaluated_at"
        with cursor.cursor.copy(f"COPY directory_evaluation ({columns}) FROM STDIN") as copy:
            for i in range(missing):
                eid = next_id + i
                copy.write_row(
                    (
                        eid,
                        f"bench-{eid}",
                        rng.choice(agents),
                        rng.choice(areas),
                        max(0, min(100, round(rng.gauss(78, 10)))),
                        first + timedelta(seconds=rng.randrange(seconds)),
                    )
                )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('directory_evaluation', 'id'), %s)",
            [next_id + missing],
        )
    say(f"added {missing:,} evaluations in {time.perf_counter() - started:,.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE directory_evaluation")
    return missing


def main() -> None:
    p = common.parser(__doc__ or "")
    p.add_argument("--evaluations", type=int, default=1_000_000)
    args = p.parse_args()
    if args.db != "postgres":
        sys.exit("the report's figures are taken on PostgreSQL")
    info = common.setup(args)
    top_up(args.evaluations)

    from qa.effect import refresh_effect_windows
    from qa.models import EffectWindow

    began = time.perf_counter()
    refresh_effect_windows()  # the COPY above bypassed the ingest: the stored windows, rebuilt
    rebuild_s = round(time.perf_counter() - began, 1)
    from django.db import connection
    from django.db.models import Count, Max
    from django.test.utils import CaptureQueriesContext

    from coaching.models import CoachingSession, SessionAttendee, State
    from directory.models import Evaluation, User
    from qa.effect import coaching_effect_report, session_effect

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    latest = Evaluation.objects.aggregate(m=Max("evaluated_at"))["m"]
    facts = {
        "evaluations": Evaluation.objects.count(),
        "agents_evaluated": Evaluation.objects.values("agent_id").distinct().count(),
        "completed_sessions": CoachingSession.objects.filter(state=State.COMPLETED).count(),
        "stored_windows": EffectWindow.objects.count(),
        "stored_windows_rebuild_s": rebuild_s,
    }
    print(facts)
    periods = {
        "a year": (latest - timedelta(days=365), latest),
        "a quarter": (latest - timedelta(days=120), latest - timedelta(days=30)),
        "a month": (latest - timedelta(days=60), latest - timedelta(days=30)),
    }
    rows = []
    plans: list[str] = []
    for label, (start, end) in periods.items():
        for group_by in ("coaching_area", "coach"):

            def call(group_by=group_by, start=start, end=end):
                return coaching_effect_report(group_by=group_by, start=start, end=end)

            report = call()
            timing = common.measure(call, seconds=args.seconds, min_runs=3, max_runs=10)
            queries, _ = common.count_queries(call)
            rows.append(
                {
                    "period": label,
                    "group_by": group_by,
                    "rows": len(report.rows),
                    "coached deltas": sum(r.n for r in report.rows),
                    "baseline agents": sum(b.agents for b in report.baselines.values()),
                    "queries": queries,
                    **timing,
                }
            )
            print(rows[-1])
            with CaptureQueriesContext(connection) as ctx:
                call()
            explained = []
            for q in ctx.captured_queries:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
                    plan = "\n".join(r[0] for r in cursor.fetchall())
                plans.append(f"-- {label}, group_by={group_by}\n{q['sql']}\n\n{plan}\n")
                explained.append(plan.rsplit("Execution Time: ", 1)[-1].strip())
            rows[-1]["explain"] = " + ".join(explained)
            print("EXPLAIN ANALYZE execution times:", rows[-1]["explain"])
    # One session's effect (the session page and the API): the session with the most trainees.
    busiest = (
        SessionAttendee.objects.filter(session__state=State.COMPLETED, role="trainee")
        .values("session_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if busiest:
        session = CoachingSession.objects.get(pk=busiest["session_id"])
        viewer = User.objects.filter(username__startswith="lo.admin.").first()

        def one():
            return session_effect(session, viewer)

        rows.append(
            {
                "period": f"session {session.pk} ({busiest['n']} trainees)",
                "group_by": "-",
                "rows": len(one()),
                "queries": common.count_queries(one)[0],
                **common.measure(one, seconds=args.seconds),
            }
        )
    columns = [
        "period",
        "group_by",
        "rows",
        "coached deltas",
        "baseline agents",
        "queries",
        "explain",
        "median_ms",
        "p95_ms",
        "runs",
    ]
    print(common.table(rows, columns))
    common.save("effect", info, rows, extra={"facts": facts})
    plan_path = common.RESULTS / f"effect-{info['vendor']}-{info['scale']}.plans.txt"
    plan_path.write_text("\n".join(plans))
    print(f"plans: {plan_path}")


if __name__ == "__main__":
    main()
