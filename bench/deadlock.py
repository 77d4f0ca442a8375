"""Reproduce the e-mail worker / state change deadlock on PostgreSQL, and count what it costs.

A fresh database with the demo organisation, gunicorn (2 workers x 2 threads) and `db_worker`
processes running, then PAIRS suggest+decline pairs through the REST API from CLIENTS threads:
Sam suggests a session to Cora, and Cora declines it at once. While Cora's decline holds the
session row, the worker is sending Cora the "suggested" e-mail; both need the other's rows.
Counted: HTTP statuses (any 5xx), worker tasks FAILED, notifications whose e-mail is not sent once
the queue is empty (those wait for the sweep), deadlock messages in the server and worker logs,
and how long each e-mail took from the notification to its sending.

    .venv/bin/python bench/deadlock.py [--pairs 200] [--clients 4] [--workers 1] [--code DIR]

`--code` runs another checkout of the product (e.g. the code before a fix) with this one's
virtualenv. The database is `coachsuggest_deadlock_<pid>` on 127.0.0.1, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
from live import GUNICORN, PYTHON, ROOT, call, free_port, wait_for

HERE = ROOT
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="db_worker processes")
    parser.add_argument("--code", type=Path, default=HERE)
    args = parser.parse_args()
    code = args.code.resolve()
    python = PYTHON
    name = f"coachsuggest_deadlock_{os.getpid()}"
    work = Path(f"/tmp/{name}")
    (work / "outbox").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "DATA_DIR": str(work),
        "EMAIL_FILE_PATH": str(work / "outbox"),
        "SECRET_KEY": "bench-deadlock",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "TASK_LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": "4",
    }
    env.pop("TESTING", None)
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    procs: list[subprocess.Popen[bytes]] = []
    logs = {"web": work / "web.log", "worker": work / "worker.log"}
    try:
        for step in (["migrate", "--no-input", "-v", "0"], ["load_demo", "--force"]):
            subprocess.run(
                [python, "manage.py", *step], cwd=code, env=env, check=True, capture_output=True
            )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        gunicorn = [GUNICORN]
        if (code / "config" / "gunicorn.py").exists():
            gunicorn += ["-c", "config/gunicorn.py"]
        web_log = logs["web"].open("wb")
        procs.append(
            subprocess.Popen(
                [*gunicorn, "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
                + ["--workers", "2", "--threads", "2", "--no-control-socket"],
                cwd=code,
                env=env,
                stdout=web_log,
                stderr=subprocess.STDOUT,
            )
        )
        worker_log = logs["worker"].open("wb")
        for _ in range(args.workers):
            procs.append(
                subprocess.Popen(
                    [python, "manage.py", "db_worker", "--queue-name", "*", "--no-reload"]
                    + ["--interval", "0.05"],
                    cwd=code,
                    env=env,
                    stdout=worker_log,
                    stderr=subprocess.STDOUT,
                )
            )
        wait_for(base)

        def token(username: str) -> str:
            status, body = call(
                base, "POST", "/auth/token", {"username": username, "password": "demo"}, None
            )
            assert status == 200, (status, body)
            return str(body["token"])

        sam, cora = token("sam.supervisor"), token("cora.coach")
        _, users = call(base, "GET", "/users?search=cora", None, sam)
        cora_id = users["items"][0]["id"]
        _, users = call(base, "GET", "/users?search=alice", None, sam)
        alice_id = users["items"][0]["id"]
        _, areas = call(base, "GET", "/coaching-areas", None, sam)
        area_id = areas["items"][0]["id"]

        statuses: Counter[str] = Counter()
        errors: list[str] = []
        lock = threading.Lock()
        todo = list(range(args.pairs))

        def client() -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                s1, b1 = call(
                    base,
                    "POST",
                    "/coaching-sessions",
                    {
                        "title": f"Pair {i}",
                        "coach": {"type": "user", "id": cora_id},
                        "trainees": [{"type": "user", "id": alice_id}],
                        "coaching_area_id": area_id,
                    },
                    sam,
                )
                s2 = 0
                if s1 == 201:
                    s2, b2 = call(
                        base,
                        "POST",
                        f"/coaching-sessions/{b1['id']}/decline",
                        {"reason": "No time"},
                        cora,
                    )
                with lock:
                    statuses[f"suggest {s1}"] += 1
                    if s2:
                        statuses[f"decline {s2}"] += 1
                    if s1 >= 500 or s2 >= 500:
                        errors.append(f"pair {i}: {s1} {s2}")

        started = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        requests_done = time.monotonic() - started

        # Let the worker empty the queue (a task due later, such as expiry, is not waited for).
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as db:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                (left,) = db.execute(
                    "SELECT count(*) FROM django_tasks_database_dbtaskresult "
                    "WHERE status IN ('READY', 'RUNNING') AND task_path LIKE '%deliver_email' "
                    "AND (run_after <= now() OR run_after >= '9999-01-01')"
                ).fetchone()
                if not left:
                    break
                time.sleep(0.2)
            drained = time.monotonic() - started
            tasks = dict(
                db.execute(
                    "SELECT status, count(*) FROM django_tasks_database_dbtaskresult "
                    "WHERE task_path LIKE '%deliver_email' GROUP BY status"
                ).fetchall()
            )
            failed_kinds = db.execute(
                "SELECT task_path, count(*) FROM django_tasks_database_dbtaskresult "
                "WHERE status = 'FAILED' GROUP BY task_path"
            ).fetchall()
            ours = (
                "FROM notifications_notification n JOIN coaching_coachingsession s "
                "ON s.id = n.session_id WHERE s.title LIKE 'Pair %%'"
            )
            mail = dict(db.execute(f"SELECT n.email_status, count(*) {ours} GROUP BY 1").fetchall())
            latency = [
                float(row[0])
                for row in db.execute(
                    f"SELECT EXTRACT(EPOCH FROM n.email_sent_at - n.created_at) {ours} "
                    "AND n.email_sent_at IS NOT NULL"
                ).fetchall()
            ]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    deadlocks = {
        k: v.read_text(errors="replace").count("deadlock detected") for k, v in logs.items()
    }
    retried = sum(
        v.read_text(errors="replace").count("lost a database race") for v in logs.values()
    )
    http_5xx = sum(n for k, n in statuses.items() if int(k.split()[1]) >= 500)
    latency.sort()
    print(f"## deadlock bench: {code}")
    print(f"- pairs: {args.pairs}, clients: {args.clients}, db_workers: {args.workers}")
    print(f"- requests done in {requests_done:.1f} s, queue empty after {drained:.1f} s")
    print(f"- HTTP: {dict(sorted(statuses.items()))}; 5xx: {http_5xx}")
    print(f"- e-mail tasks: {tasks}; FAILED by task: {dict(failed_kinds)}")
    print(f"- e-mail of the pairs' notifications: {mail} (pending = waiting for the sweep)")
    if latency:
        p95 = latency[int(0.95 * (len(latency) - 1))]
        print(
            f"- e-mail latency (notification -> sent): median {statistics.median(latency):.2f} s, "
            f"p95 {p95:.2f} s, max {latency[-1]:.2f} s"
        )
    print(f"- 'deadlock detected' in logs: {deadlocks}; transactions run again: {retried}")
    for e in errors[:5]:
        print(f"  - {e}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
