"""Typeahead: directory.selectors.search_users / search_groups / search_cases with short terms,
first 10 results, and the plan of each query.

    .venv/bin/python bench/bench_search.py --scale 50000 [--db sqlite]
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
    from directory import selectors as d
    from directory.models import User

    agent = User.objects.filter(username__startswith="lo.agent.").order_by("username").first()
    cases = [
        ("search_users", "an (very common)", lambda: d.search_users("an")),
        ("search_users", "mar", lambda: d.search_users("mar")),
        ("search_users", "kowa (rare)", lambda: d.search_users("kowa")),
        ("search_users", "zz (no match)", lambda: d.search_users("zz")),
        ("search_users", "(empty term)", lambda: d.search_users("")),
        ("search_groups", "te", lambda: d.search_groups("te")),
        ("search_groups", "berlin 00", lambda: d.search_groups("berlin 00")),
        (
            "search_groups + member count",
            "coa",
            lambda: d.with_member_count(d.search_groups("coa")),
        ),
        ("search_cases", "refund", lambda: d.search_cases("refund")),
        ("search_cases", "lo-00012", lambda: d.search_cases("lo-00012")),
        ("search_cases", "xq (no match)", lambda: d.search_cases("xq")),
        ("search_cases (agent: own cases)", "ro", lambda: d.search_cases("ro", viewer=agent)),
    ]
    rows: list[dict[str, Any]] = []
    plans: dict[str, str] = {}
    for fn, term, make in cases:
        label = f"{fn} '{term}'"
        matching = make().count()
        queries, _ = common.count_queries(lambda make=make: list(make()[:10]))
        timing = common.measure(lambda make=make: list(make()[:10]), seconds=args.seconds)
        plan = common.explain(make()[:10])
        plans[label] = plan
        rows.append(
            {
                "search": fn,
                "term": term,
                "matching": matching,
                "queries": queries,
                **timing,
                "seq_scans": ", ".join(common.seq_scans(plan)) or "none",
            }
        )
        print(
            f"{label:48} {timing['median_ms']:8.2f} ms median, {timing['p95_ms']:8.2f} ms p95, "
            f"{matching:,} matching"
        )
    path = common.save("search", info, rows, extra={"plans": plans})
    path.with_suffix(".plans.txt").write_text(
        "\n\n".join(f"### {k}\n{v}" for k, v in plans.items()) + "\n"
    )
    print()
    print(
        common.table(
            rows, ["search", "term", "matching", "median_ms", "p95_ms", "queries", "seq_scans"]
        )
    )
    print(f"\npeak RSS {common.peak_rss_mib():,.0f} MiB; results in {path}")


if __name__ == "__main__":
    main()
