"""Shared set-up for the benchmark scripts: pick and prepare the database, time things, count
queries, record results.

Each script takes `--scale N` (agents; the rest of the organisation scales with it, see `sizes`)
and `--db postgres|sqlite`. Without DATABASE_URL it uses its own database: PostgreSQL
`bench_coaching_<N>` on 127.0.0.1 (created and migrated if missing), or the SQLite file
`/tmp/bench_coaching/<N>.sqlite3`. The developers' databases are never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PG_HOST = "postgres://postgres@127.0.0.1:5432"
SQLITE_DIR = Path("/tmp/bench_coaching")
BIG_TABLES = {
    "directory_user",
    "directory_usergroupmembership",
    "directory_case",
    "directory_caseparticipant",
    "directory_evaluation",
    "coaching_coachingsession",
    "coaching_sessiontraineeuser",
    "coaching_sessiontraineegroup",
    "coaching_sessionreferencecase",
    "coaching_sessionevent",
    "notifications_notification",
}


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--scale", type=int, default=50_000, help="agents (default 50,000)")
    p.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    return p


def sizes(scale: int) -> dict[str, int]:
    """The organisation for `scale` agents: the proportions of the 50,000-agent default."""
    return {
        "agents": scale,
        "groups": max(60, scale * 3 // 50),
        "cases": scale * 6,
        "sessions": scale * 4,
    }


def database_url(db: str, scale: int) -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if db == "postgres":
        return f"{PG_HOST}/bench_coaching_{scale}"
    SQLITE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{SQLITE_DIR / f'{scale}.sqlite3'}"


def _ensure_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    if not name.startswith("bench_coaching"):
        sys.exit(f"refusing to use {name!r}: benchmark databases are named bench_coaching*")
    # template1 as the maintenance database (not `postgres`, which others use); template0 as the
    # template so other sessions on template1 cannot block CREATE DATABASE.
    with psycopg.connect(
        url.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/template1",
        autocommit=True,
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            print(f"created PostgreSQL database {name}")


def setup(args: argparse.Namespace, *, generate: bool = True) -> dict[str, Any]:
    """Point Django at the benchmark database, migrate it, generate the organisation if it is
    not there yet. Returns a description of the run."""
    url = database_url(args.db, args.scale)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DATA_DIR", str(SQLITE_DIR))
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    if url.startswith("postgres"):
        _ensure_pg_database(url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from demo.largeorg import Sizes, is_generated
    from demo.largeorg import generate as gen

    if generate and not is_generated():
        s = sizes(args.scale)
        print(f"generating the organisation for {args.scale:,} agents: {s}")
        started = time.perf_counter()
        gen(Sizes(**s), say=print)
        print(f"generated in {time.perf_counter() - started:,.1f} s")
    return {
        "vendor": connection.vendor,
        "scale": args.scale,
        "database": connection.settings_dict["NAME"],
    }


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def count_queries(fn: Callable[[], Any]) -> tuple[int, list[str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def measure(
    fn: Callable[[], Any],
    *,
    prepare: Callable[[], Any] | None = None,
    seconds: float = 2.0,
    min_runs: int = 5,
    max_runs: int = 50,
) -> dict[str, float]:
    """Median and p95 wall time (ms) of `fn`, after two warm-up runs. `prepare` runs untimed
    before each call (e.g. a fresh viewer object, as each request has)."""
    for _ in range(2):
        fn() if prepare is None else fn(prepare())  # type: ignore[call-arg]
    times: list[float] = []
    budget_end = time.perf_counter() + seconds
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() < budget_end):
        arg = prepare() if prepare is not None else None
        t0 = time.perf_counter()
        fn() if prepare is None else fn(arg)  # type: ignore[call-arg]
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
    return {"median_ms": statistics.median(times), "p95_ms": p95, "runs": len(times)}


def explain(qs: Any) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return qs.explain(analyze=True, buffers=True)
    return qs.explain()


def seq_scans(plan: str) -> list[str]:
    """Big tables read in full by `plan` (PostgreSQL "Seq Scan on", SQLite "SCAN" without an
    index)."""
    found = []
    for line in plan.splitlines():
        text = line.strip().lstrip("->").strip().removeprefix("Parallel ")
        for table in BIG_TABLES:
            if text.startswith(f"Seq Scan on {table} ") or text == f"Seq Scan on {table}":
                found.append(table)
            if (
                f"SCAN {table}" in text
                and "USING" not in text
                and "SEARCH" not in text
                and f"SCAN {table}_" not in text
            ):
                found.append(table)
    return sorted(set(found))


def save(name: str, info: dict[str, Any], rows: list[dict[str, Any]], extra: Any = None) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{info['vendor']}-{info['scale']}.json"
    info = {**info, "peak_rss_mib": round(peak_rss_mib()), "date": time.strftime("%Y-%m-%d")}
    path.write_text(json.dumps({"info": info, "rows": rows, "extra": extra}, indent=1, default=str))
    return path


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}" if v < 100 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(out)
