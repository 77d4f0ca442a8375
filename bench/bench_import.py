"""Evaluations ingest at scale: `manage.py import_evaluations` of a generated CSV file (1,000,000
rows by default) against the large organisation, then the same file again (every row an update);
rows/s, wall time and the command's peak RSS. Then the API: batches of 1,000 items POSTed to a
production server (gunicorn, config/gunicorn.py) from this separate process, new and again
(updates); items/s. Changes the benchmark database (its own: bench_coaching_ingest_<N>).

    .venv/bin/python bench/bench_import.py --scale 50000 [--rows 1000000] [--api-batches 40]
"""

from __future__ import annotations

import csv
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SEED = 20261201
CSV_DIR = Path("/tmp/bench_coaching")


def _write_csv(
    path: Path, rows: int, agents: list[int], areas: list[int], cases: list[str]
) -> None:
    rng = random.Random(SEED)
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["source_id", "agent_id", "coaching_area_id", "score", "evaluated_at", "case"])
        for n in range(rows):
            at = start - timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
            out.writerow(
                [
                    f"bench-{n}",
                    rng.choice(agents),
                    rng.choice(areas),
                    max(0, min(100, round(rng.gauss(78, 10)))),
                    at.isoformat(),
                    rng.choice(cases) if rng.random() < 0.7 else "",
                ]
            )


def _hwm_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM: of this program, not of the forked parent)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _import(path: Path, env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    # Files, not pipes: a pipe nobody reads while the child runs could fill and stall it.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [sys.executable, "manage.py", "import_evaluations", str(path)],
            cwd=common.ROOT,
            env=env,
            stdout=out,
            stderr=err,
            text=True,
        )
        peak = 0.0
        while child.poll() is None:
            peak = max(peak, _hwm_mib(child.pid))
            time.sleep(0.2)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    print(stdout.strip())
    print("\n".join(stderr.strip().splitlines()[-3:]))
    if child.returncode != 0:
        sys.exit(f"import failed ({child.returncode}): {stderr[-2000:]}")
    return {
        "wall_s": round(wall, 1),
        "summary": stdout.strip(),
        "peak_rss_mib": round(peak),
        "progress_tail": stderr.strip().splitlines()[-3:],
    }


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _api(env: dict[str, str], token: str, batches: int, agents: list[int], areas: list[int]):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server_env = {**env, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1", "WEB_WORKERS": "2"}
    server_env.setdefault("SECRET_KEY", "bench-import")
    server = subprocess.Popen(
        [
            str(common.ROOT / ".venv/bin/gunicorn"),
            "-c",
            "config/gunicorn.py",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "--log-level",
            "warning",
        ],
        cwd=common.ROOT,
        env=server_env,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        rng = random.Random(SEED + 1)
        start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
        bodies = [
            json.dumps(
                {
                    "items": [
                        {
                            "source_id": f"bench-api-{b}-{i}",
                            "agent_id": rng.choice(agents),
                            "coaching_area_id": rng.choice(areas),
                            "score": rng.randrange(0, 101),
                            "evaluated_at": (start - timedelta(minutes=i)).isoformat(),
                        }
                        for i in range(1000)
                    ]
                }
            ).encode()
            for b in range(batches)
        ]
        results = []
        for label in ("new", "again (updates)"):
            times: list[float] = []
            counts = {"created": 0, "updated": 0}
            for body in bodies:
                request = urllib.request.Request(
                    f"{base}/api/v1/evaluations",
                    data=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )
                t0 = time.perf_counter()
                with urllib.request.urlopen(request, timeout=120) as response:
                    answer = json.load(response)
                times.append(time.perf_counter() - t0)
                counts["created"] += answer["created"]
                counts["updated"] += answer["updated"]
            times.sort()
            total = sum(times)
            results.append(
                {
                    "run": label,
                    "batches": batches,
                    "items": batches * 1000,
                    **counts,
                    "items_per_s": round(batches * 1000 / total),
                    "median_ms": round(times[len(times) // 2] * 1000),
                    "p95_ms": round(
                        times[min(len(times) - 1, round(0.95 * len(times)) - 1)] * 1000
                    ),
                }
            )
            print(results[-1])
        return results
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    p = common.parser(__doc__ or "")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--api-batches", type=int, default=40, help="API requests of 1,000 items")
    args = p.parse_args()
    if args.db == "postgres" and not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"{common.PG_HOST}/bench_coaching_ingest_{args.scale}"
    info = common.setup(args)
    from django.db import connection

    from directory.models import Case, CoachingArea, Evaluation, User
    from directory.permissions import Role
    from tokens.services import token_issue

    agents = list(
        User.objects.filter(groups__name=Role.AGENT, is_active=True).values_list("pk", flat=True)
    )
    areas = list(CoachingArea.objects.values_list("pk", flat=True))
    cases = list(Case.objects.values_list("number", flat=True)[:100_000])
    admin = User.objects.filter(groups__name=Role.QM_ADMIN).first()
    if admin is None:
        sys.exit("the organisation has no QM Admin")
    Evaluation.objects.filter(source_id__startswith="bench-").delete()
    before = Evaluation.objects.count()
    connection.close()

    CSV_DIR.mkdir(parents=True, exist_ok=True)
    path = CSV_DIR / f"evaluations-{args.rows}.csv"
    started = time.perf_counter()
    _write_csv(path, args.rows, agents, areas, cases)
    print(
        f"wrote {path} ({path.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - started:.1f} s"
    )

    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    runs = []
    for label in ("new (all created)", "again (all updated)"):
        result = _import(path, env)
        result["run"] = label
        result["rows"] = args.rows
        result["rows_per_s"] = round(args.rows / result["wall_s"])
        runs.append(result)
        print(result)
    after = Evaluation.objects.count()

    raw = token_issue(user=admin, name="bench")[1]
    connection.close()
    api = _api(env, raw, args.api_batches, agents, areas) if args.api_batches else []

    extra = {
        "agents": len(agents),
        "areas": len(areas),
        "evaluations_before": before,
        "evaluations_after_import": after,
        "csv_mib": round(path.stat().st_size / 2**20),
        "load_average": os.getloadavg(),
        "api": api,
    }
    saved = common.save("import", info, runs, extra)
    print(f"saved {saved}")
    _markdown(info, runs, extra)
    path.unlink()


def _markdown(info: dict[str, Any], runs: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    lines = [
        f"# Evaluations import, {info['vendor']}, {info['scale']:,} agents",
        "",
        f"Date {time.strftime('%Y-%m-%d %H:%M')} UTC; `bench/bench_import.py --scale "
        f"{info['scale']}`; {extra['agents']:,} active agents, {extra['areas']} coaching areas, "
        f"{extra['evaluations_before']:,} evaluations before; CSV of {runs[0]['rows']:,} rows "
        f"({extra['csv_mib']} MiB, 70% with a case number); load average at the end "
        f"{', '.join(f'{x:.1f}' for x in extra['load_average'])} (2 shared cores).",
        "",
        "## manage.py import_evaluations (its own process; peak RSS of that process)",
        "",
        "| run | rows | wall | rows/s | peak RSS |",
        "|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['run']} | {r['rows']:,} | {r['wall_s']:,.1f} s | {r['rows_per_s']:,} | "
            f"{r['peak_rss_mib']} MiB |"
        )
    if extra["api"]:
        lines += [
            "",
            "## POST /api/v1/evaluations (gunicorn, 2 workers; one client, sequential requests)",
            "",
            "| run | requests x items | created | updated | items/s | median | p95 |",
            "|---|---|---|---|---|---|---|",
        ]
        for a in extra["api"]:
            lines.append(
                f"| {a['run']} | {a['batches']} x 1,000 | {a['created']:,} | {a['updated']:,} | "
                f"{a['items_per_s']:,} | {a['median_ms']} ms | {a['p95_ms']} ms |"
            )
    out = common.RESULTS / f"import-{info['vendor']}.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
