"""Proof that the rewritten selectors return exactly what the original ones returned: every list,
in order, for a sample of viewers of every role, agents, cases and states.

    .venv/bin/python bench/verify_selectors.py --scale 5000 [--db sqlite] [--sample 150]
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> None:
    p = common.parser(__doc__ or "")
    p.add_argument("--sample", type=int, default=150)
    args = p.parse_args()
    common.setup(args)
    import reference_selectors as old
    from django.utils import timezone

    from coaching import selectors as new
    from coaching.models import SessionReferenceCase, SessionTraineeGroup, State
    from directory.models import User, UserGroupMembership

    rng = random.Random(1)
    now = timezone.now()
    users = list(User.objects.order_by("pk").values_list("pk", flat=True))
    picked = set(rng.sample(users, min(args.sample, len(users))))
    picked |= set(User.objects.filter(username__endswith=".000001").values_list("pk", flat=True))
    # Members of trainee groups and participants of referenced cases: the interesting agents.
    groups = list(SessionTraineeGroup.objects.values_list("group_id", flat=True)[:20])
    picked |= set(
        UserGroupMembership.objects.filter(group_id__in=groups).values_list("user_id", flat=True)[
            : args.sample // 3
        ]
    )
    cases = list(SessionReferenceCase.objects.order_by("pk").values_list("case", flat=True)[:30])
    from directory.models import Case, CaseParticipant

    picked |= set(
        CaseParticipant.objects.filter(case_id__in=cases).values_list("user_id", flat=True)
    )
    case_objs = list(Case.objects.filter(pk__in=cases))
    agents = list(User.objects.filter(pk__in=list(picked)[:40]))

    def ids(qs: Any) -> list[int]:
        return list(qs.values_list("pk", flat=True))

    checked = mismatches = 0

    def same(label: str, a: Any, b: Any) -> None:
        nonlocal checked, mismatches
        checked += 1
        x, y = ids(a), ids(b)
        if x != y:
            mismatches += 1
            print(f"MISMATCH {label}: {len(x)} vs {len(y)} rows")

    for pk in sorted(picked):
        v1, v2 = User.objects.get(pk=pk), User.objects.get(pk=pk)
        order = ("-created_at", "-id")
        same(
            f"visible_to {pk}",
            old.sessions_visible_to(v1, now).order_by(*order),
            new.sessions_visible_to(v2, now).order_by(*order),
        )
        for st in State.values:
            same(
                f"visible_to {pk} state={st}",
                old.sessions_visible_to(v1, now).filter(old.state_q(st, now)).order_by(*order),
                new.sessions_visible_to(v2, now).filter(new.state_q(st, now)).order_by(*order),
            )
        same(f"suggested_by {pk}", old.sessions_suggested_by(v1), new.sessions_suggested_by(v2))
        same(f"to_coach {pk}", old.sessions_to_coach(v1, now), new.sessions_to_coach(v2, now))
        same(
            f"for_trainee own {pk}",
            old.sessions_for_trainee(v1, v1, now),
            new.sessions_for_trainee(v2, v2, now),
        )
        for agent in rng.sample(agents, 3):
            same(
                f"for_trainee {pk}/{agent.pk}",
                old.sessions_for_trainee(v1, agent, now),
                new.sessions_for_trainee(v2, agent, now),
            )
        for case in rng.sample(case_objs, 3):
            same(
                f"for_case {pk}/{case.pk}",
                old.sessions_for_case(v1, case, now),
                new.sessions_for_case(v2, case, now),
            )
    print(f"{checked:,} lists compared for {len(picked)} viewers: {mismatches} mismatches")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
