"""What online password guessing costs the server, with and without the sign-in lockout.

A throwaway SQLite database with the demo organisation, gunicorn (1 worker, the real password
hasher: PBKDF2 as in production), then ATTEMPTS wrong passwords for sam.supervisor through
`POST /api/v1/auth/token`, one after the other: once with LOGIN_THROTTLE=0 (every attempt hashes
a password) and once with the lockout on (after LOGIN_FAILURE_LIMIT attempts, the rest are refused
before any hashing). Measured: each answer's status, its time at the client, and the CPU seconds
the web worker spent (from /proc).

    .venv/bin/python bench/login_cost.py [--attempts 40]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from live import GUNICORN, PYTHON, ROOT, call, free_port, wait_for


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def run(attempts: int, throttle: bool, work: Path) -> dict[str, object]:
    data = work / ("on" if throttle else "off")
    data.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{data / 'db.sqlite3'}",
        "DATA_DIR": str(data),
        "SECRET_KEY": "bench-login",
        "LOG_LEVEL": "ERROR",
        "LOGIN_THROTTLE": "1" if throttle else "0",
    }
    env.pop("TESTING", None)
    for step in (["migrate", "--no-input", "-v", "0"], ["load_demo", "--force"]):
        subprocess.run(
            [PYTHON, "manage.py", *step], cwd=ROOT, env=env, check=True, capture_output=True
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [GUNICORN, "-c", "config/gunicorn.py", "config.wsgi:application"]
        + ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(base)
        workers = children(server.pid)
        answers: list[tuple[int, float]] = []
        cpu_before = cpu_seconds(workers)
        started = time.monotonic()
        for _ in range(attempts):
            t0 = time.perf_counter()
            status, _ = call(
                base,
                "POST",
                "/auth/token",
                {"username": "sam.supervisor", "password": "guess"},
                None,
            )
            answers.append((status, time.perf_counter() - t0))
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(workers) - cpu_before
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    refused = [t for s, t in answers if s == 429]
    return {
        "throttle": throttle,
        "statuses": dict(Counter(s for s, _ in answers)),
        "median_ms": statistics.median(t for _, t in answers) * 1000,
        "wall_s": elapsed,
        "cpu_s": cpu,
        "cpu_ms_per_attempt": cpu / attempts * 1000,
        "median_locked_ms": statistics.median(refused) * 1000 if refused else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="coachsuggest-login-"))
    try:
        rows = [run(args.attempts, throttle, work) for throttle in (False, True)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"## login cost: {args.attempts} wrong passwords for one account, one after the other")
    print(
        "| lockout | answers | median per attempt | server CPU | CPU per attempt | locked answers (median) |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        locked = f"{r['median_locked_ms']:.0f} ms" if r["median_locked_ms"] else "-"
        print(
            f"| {'on' if r['throttle'] else 'off'} | {r['statuses']} | {r['median_ms']:.0f} ms "
            f"| {r['cpu_s']:.2f} s | {r['cpu_ms_per_attempt']:.0f} ms | {locked} |"
        )


if __name__ == "__main__":
    main()
