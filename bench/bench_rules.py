"""Coaching rules at scale (PostgreSQL): one rule firing for 5,000 agents at once among 50,000
agents with 1,000,000 evaluations; then the same run again (it must create nothing); then an
arrival-sized run (1,000 agents). Reports wall time, peak RSS of the process, queries, and the
plan of the averaging query. Its own database (`bench_coaching_rules_<agents>`), rebuilt each run.

    .venv/bin/python bench/bench_rules.py [--agents 50000] [--firing 5000] [--per-area 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

AREAS = ["Bench Empathy", "Bench Compliance", "Bench Product", "Bench Calls"]


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def build(agents: int, firing: int, per_area: int) -> dict[str, Any]:
    """Users by bulk insert; evaluations by one INSERT ... SELECT over generate_series: the
    first `firing` agents score 40-59 in the first area, everyone else 70-99."""
    from django.db import connection

    from directory.models import CoachingArea, User

    started = time.perf_counter()
    areas = [CoachingArea.objects.create(name=n) for n in AREAS]
    coach = User.objects.create(username="bench.coach", display_name="Bench Coach")
    batch = 5000
    for start in range(0, agents, batch):
        User.objects.bulk_create(
            [
                User(
                    username=f"bench.agent.{i}",
                    display_name=f"Bench Agent {i:06}",
                    email=f"bench.agent.{i}@example.invalid",
                )
                for i in range(start, min(agents, start + batch))
            ]
        )
    first = User.objects.filter(username="bench.agent.0").values_list("pk", flat=True).get()
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO directory_evaluation
                (source_id, agent_id, coaching_area_id, score, evaluated_at, received_at)
            SELECT 'bench-' || a || '-' || ar || '-' || k,
                   %(first)s + a,
                   (%(areas)s::bigint[])[ar],
                   CASE WHEN ar = 1 AND a < %(firing)s THEN 40 + (a * 7 + k) %% 20
                        ELSE 70 + (a * 13 + k * 3) %% 30 END,
                   now() - make_interval(days => k, hours => ar),
                   now()
            FROM generate_series(0, %(agents)s - 1) a,
                 generate_series(1, %(n_areas)s) ar,
                 generate_series(1, %(per_area)s) k
            """,
            {
                "first": first,
                "areas": [a.pk for a in areas],
                "firing": firing,
                "agents": agents,
                "n_areas": len(areas),
                "per_area": per_area,
            },
        )
        cur.execute("ANALYZE")
    return {
        "area": areas[0],
        "coach": coach,
        "build_s": round(time.perf_counter() - started, 1),
        "evaluations": agents * len(areas) * per_area,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--agents", type=int, default=50_000)
    p.add_argument("--firing", type=int, default=5_000)
    p.add_argument("--per-area", type=int, default=5, help="evaluations per agent and area")
    args = p.parse_args()
    name = f"bench_coaching_rules_{args.agents}"
    os.environ["DATABASE_URL"] = f"{common.PG_HOST}/{name}"
    _drop(name)
    info = common.setup(argparse.Namespace(db="postgres", scale=args.agents), generate=False)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_tasks_db.models import DBTaskResult

    from coaching.models import CoachingSession, Origin
    from notifications.models import Notification
    from qa import engine
    from qa.models import CoachingRule

    built = build(args.agents, args.firing, args.per_area)
    rule = CoachingRule.objects.create(
        name="Bench rule",
        coaching_area=built["area"],
        threshold=65,
        window=5,
        min_evaluations=3,
        coach_user=built["coach"],
        expires_in_days=14,
    )
    sql, params = engine.firing_sql(rule, None)
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    t0 = time.perf_counter()
    firing = engine.firing_agents(rule)
    averaging_ms = (time.perf_counter() - t0) * 1000

    rows: list[dict[str, Any]] = []

    def run(label: str, agent_ids: list[int] | None) -> engine.RunResult:
        connection.queries_log.clear()
        rss_before = current_rss_mib()
        tasks_before = DBTaskResult.objects.count()
        with CaptureQueriesContext(connection) as q:
            t = time.perf_counter()
            result = engine.run_rule(rule.pk, agent_ids)
            seconds = time.perf_counter() - t
        rows.append(
            {
                "run": label,
                "agents looked at": len(agent_ids) if agent_ids is not None else args.agents,
                "below threshold": result.firing,
                "created": result.created,
                "skipped (open)": result.skipped,
                "seconds": round(seconds, 2),
                "queries": len(q.captured_queries),
                "RSS before (MiB)": round(rss_before),
                "RSS after (MiB)": round(current_rss_mib()),
                "peak RSS (MiB)": round(rss_mib()),
                "task rows added": DBTaskResult.objects.count() - tasks_before,
            }
        )
        print(rows[-1], flush=True)
        return result

    first = run("first run (daily sweep: all agents)", None)
    run("rerun (nothing missing)", None)
    # Arrival: 1,000 agents whose suggestions were deleted meanwhile (as expired or declined).
    some = firing[:1000]
    CoachingSession.objects.filter(origin=Origin.RULE, trainee_users__in=some).delete()
    run("arrival (1,000 agents, none open)", some)
    extra = {
        "averaging query over the area (ms)": round(averaging_ms, 1),
        "build": {k: v for k, v in built.items() if k in ("build_s", "evaluations")},
        "sessions": CoachingSession.objects.filter(origin=Origin.RULE).count(),
        "notifications": Notification.objects.count(),
        "firing": len(firing),
        "first_run_created": first.created,
        "plan": plan,
    }
    results = common.RESULTS
    results.mkdir(exist_ok=True)
    (results / f"rules-postgresql-{args.agents}.json").write_text(
        json.dumps({"info": info, "rows": rows, "extra": extra}, indent=1, default=str)
    )
    columns = list(rows[0])
    print(common.table(rows, columns))
    print(f"averaging query alone: {averaging_ms:,.0f} ms; plan:\n{plan}")
    _drop(name, keep=os.environ.get("BENCH_KEEP") == "1")


def _drop(name: str, keep: bool = False) -> None:
    """A fresh database per run (dropped again at the end unless BENCH_KEEP=1)."""
    if keep:
        return
    import psycopg
    from django.conf import settings

    if settings.configured:
        from django.db import connections

        connections.close_all()
    with psycopg.connect(
        common.PG_HOST.replace("postgres://", "postgresql://") + "/template1", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
