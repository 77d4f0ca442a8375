"""Every list of coaching/selectors.py at page sizes 20 and 100: latency, query count, and the
plan of the main query (EXPLAIN ANALYZE on PostgreSQL).

    .venv/bin/python bench/bench_lists.py --scale 50000 [--db sqlite]

Each list is read the way a page reads it: `with_related(selector(...))[:page]`, with a fresh
viewer object per run (as each request loads the user, so the permission look-ups are counted).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def viewers() -> dict[str, Any]:
    from coaching.models import SessionReferenceCase, SessionTraineeGroup
    from directory.models import CaseParticipant, User, UserGroupMembership

    def by_role(role: str, which: str) -> Any:
        qs = User.objects.filter(username__startswith=f"lo.{role}.").order_by("username")
        if which == "busiest":  # the generator skews work towards the first ones
            return qs.first()
        return qs[qs.count() // 2]

    link = SessionTraineeGroup.objects.order_by("pk").first()
    assert link is not None
    agent = (
        User.objects.filter(
            pk__in=UserGroupMembership.objects.filter(group_id=link.group_id).values("user_id"),
            is_active=True,
        )
        .order_by("pk")
        .first()
    )
    ref = SessionReferenceCase.objects.order_by("pk").first()
    assert ref is not None
    case_agent = (
        CaseParticipant.objects.filter(case_id=ref.case_id, role="agent").order_by("pk").first()
    )
    assert case_agent is not None
    return {
        "sup_busy": by_role("supervisor", "busiest"),
        "sup": by_role("supervisor", "typical"),
        "coach_busy": by_role("coach", "busiest"),
        "coach": by_role("coach", "typical"),
        "agent": agent,
        "case": ref.case,
        "case_agent": case_agent.user,
    }


def lists(v: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, viewer, queryset factory taking a fresh viewer)."""
    from coaching import selectors as s
    from coaching.models import State

    agent, case = v["agent"], v["case"]
    newest = ("-created_at", "-id")
    out: list[tuple[str, Any, Any]] = [
        ("author's cards (busiest supervisor)", v["sup_busy"], s.sessions_suggested_by),
        ("author's cards (typical supervisor)", v["sup"], s.sessions_suggested_by),
        ("coach's section incl. groups (busiest coach)", v["coach_busy"], s.sessions_to_coach),
        ("coach's section incl. groups (typical coach)", v["coach"], s.sessions_to_coach),
        (
            "agent page incl. groups, seen by a supervisor",
            v["sup"],
            lambda viewer: s.sessions_for_trainee(viewer, agent),
        ),
        (
            "agent page incl. groups, the agent's own",
            agent,
            lambda viewer: s.sessions_for_trainee(viewer, viewer),
        ),
        (
            "case page, seen by a coach",
            v["coach"],
            lambda viewer: s.sessions_for_case(viewer, case),
        ),
        (
            "case page, seen by a participating agent",
            v["case_agent"],
            lambda viewer: s.sessions_for_case(viewer, case),
        ),
        (
            "visible to an agent (all)",
            agent,
            lambda viewer: s.sessions_visible_to(viewer).order_by(*newest),
        ),
    ]
    for state in State.values:
        out.append(
            (
                f"state={state}, supervisor (sees all)",
                v["sup"],
                lambda viewer, st=state: (
                    s.sessions_visible_to(viewer).filter(s.state_q(st)).order_by(*newest)
                ),
            )
        )
    for state in State.values:
        out.append(
            (
                f"state={state}, visible to an agent",
                agent,
                lambda viewer, st=state: (
                    s.sessions_visible_to(viewer).filter(s.state_q(st)).order_by(*newest)
                ),
            )
        )
    out.append(
        (
            "author's cards, state=suggested (busiest)",
            v["sup_busy"],
            lambda viewer: s.sessions_suggested_by(viewer).filter(s.state_q(State.SUGGESTED)),
        )
    )
    return out


def main() -> None:
    args = common.parser(__doc__ or "").parse_args()
    info = common.setup(args)
    from coaching.selectors import with_related
    from directory.models import User

    def fresh(user: Any) -> Any:
        return lambda: User.objects.get(pk=user.pk)

    rows: list[dict[str, Any]] = []
    plans: dict[str, str] = {}
    for name, viewer, factory in lists(viewers()):
        matching = factory(User.objects.get(pk=viewer.pk)).count()
        for page in (20, 100):

            def run(u: Any, page: int = page, factory: Any = factory) -> list[Any]:
                return list(with_related(factory(u))[:page])

            queries, _ = common.count_queries(lambda v=viewer: run(User.objects.get(pk=v.pk)))
            timing = common.measure(run, prepare=fresh(viewer), seconds=args.seconds)
            row = {"list": name, "page": page, "matching": matching, "queries": queries, **timing}
            if page == 20:
                plan = common.explain(with_related(factory(User.objects.get(pk=viewer.pk)))[:20])
                plans[name] = plan
                row["seq_scans"] = ", ".join(common.seq_scans(plan)) or "none"
            rows.append(row)
            print(
                f"{name:50} page {page:3}: {timing['median_ms']:8.2f} ms median, "
                f"{timing['p95_ms']:8.2f} ms p95, {queries} queries, {matching:,} matching"
            )
    path = common.save("lists", info, rows, extra={"plans": plans})
    plan_file = path.with_suffix(".plans.txt")
    plan_file.write_text("\n\n".join(f"### {name}\n{plan}" for name, plan in plans.items()) + "\n")
    print()
    print(
        common.table(
            rows,
            ["list", "page", "matching", "median_ms", "p95_ms", "queries", "seq_scans"],
        )
    )
    print(f"\npeak RSS {common.peak_rss_mib():,.0f} MiB; results in {path}, plans in {plan_file}")


if __name__ == "__main__":
    main()
