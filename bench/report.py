"""Turn bench/results/*.json into the Markdown tables of bench/README.md.

.venv/bin/python bench/report.py > /tmp/tables.md
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SHORT = {"postgresql": "PG", "sqlite": "SQLite"}


def load(kind: str) -> dict[tuple[str, int], dict[str, Any]]:
    out = {}
    for path in sorted(RESULTS.glob(f"{kind}-*.json")):
        data = json.loads(path.read_text())
        out[(data["info"]["vendor"], int(data["info"]["scale"]))] = data
    return out


def ms(v: Any) -> str:
    return f"{v:.1f}" if isinstance(v, (int, float)) else str(v)


def runs_of(data: dict[tuple[str, int], Any]) -> list[tuple[str, int]]:
    return sorted(data, key=lambda k: (k[0] != "postgresql", k[1]))


def lists() -> None:
    data = load("lists")
    runs = runs_of(data)
    if not runs:
        return
    head = ["list", "page"]
    for vendor, scale in runs:
        head.append(f"{SHORT[vendor]} {scale // 1000}k: rows / median / p95 ms / queries")
    head.append("Seq Scan on a big table (PG, largest)")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    first = data[runs[0]]["rows"]
    largest_pg = max((r for r in runs if r[0] == "postgresql"), key=lambda r: r[1], default=None)
    for i, row in enumerate(first):
        cells = [row["list"], str(row["page"])]
        for run in runs:
            r = data[run]["rows"][i]
            cells.append(
                f"{r['matching']:,} / {ms(r['median_ms'])} / {ms(r['p95_ms'])} / {r['queries']}"
            )
        seq = ""
        if largest_pg and row["page"] == 20:
            seq = data[largest_pg]["rows"][i].get("seq_scans", "")
        cells.append(seq)
        print("| " + " | ".join(cells) + " |")
    print()
    for run in runs:
        plans = data[run]["extra"]["plans"]
        times = []
        for name, plan in plans.items():
            t = next((ln for ln in plan.splitlines() if ln.startswith("Execution Time")), "")
            if t:
                times.append(f"{name}: {t.split(':')[1].strip()}")
        if times:
            print(
                f"- EXPLAIN ANALYZE execution time, {SHORT[run[0]]} {run[1]:,}: " + "; ".join(times)
            )
    print()


def simple(kind: str, key_cols: list[str], value_cols: list[str]) -> None:
    data = load(kind)
    runs = runs_of(data)
    if not runs:
        return
    head = key_cols + [f"{SHORT[v]} {s // 1000}k: {' / '.join(value_cols)}" for v, s in runs]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for i, row in enumerate(data[runs[0]]["rows"]):
        cells = [str(row.get(c, "")) for c in key_cols]
        for run in runs:
            rows = data[run]["rows"]
            r = rows[i] if i < len(rows) else {}
            cells.append(
                " / ".join(
                    f"{r.get(c):,}" if isinstance(r.get(c), int) else ms(r.get(c, ""))
                    for c in value_cols
                )
            )
        print("| " + " | ".join(cells) + " |")
    print()


def memory() -> None:
    print("| script | " + " | ".join(["vendor", "scale", "peak RSS MiB"]) + " |")
    print("|---|---|---|---|")
    for kind in ("lists", "search", "inbox", "writes"):
        for (vendor, scale), d in sorted(load(kind).items()):
            print(f"| bench_{kind} | {SHORT[vendor]} | {scale:,} | {d['info']['peak_rss_mib']} |")
    print()


def main() -> None:
    print("## Lists\n")
    lists()
    print("## Typeahead (first 10)\n")
    simple("search", ["search", "term"], ["matching", "median_ms", "p95_ms", "seq_scans"])
    print("## Inbox\n")
    simple("inbox", ["user", "read"], ["notifications", "unread", "median_ms", "p95_ms", "queries"])
    print("## Writes\n")
    simple("writes", ["operation"], ["n", "median_ms", "queries", "rate"])
    print("## Memory\n")
    memory()


if __name__ == "__main__":
    main()
