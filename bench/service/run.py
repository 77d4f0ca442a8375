"""The whole-service benchmark: the product as it runs in production, loaded from outside.

    make bench-service                               # everything, ~30 minutes
    .venv/bin/python bench/service/run.py --seconds 5 --rounds 1 --only me,api_sessions_author

What it does, in order:

1. A template database at the issue's size (50,000 agents, 3,000 groups, 300,000 cases, 200,000
   sessions; `manage.py generate_large_org`), made once and kept, then VACUUM ANALYZE; each run
   copies it (`CREATE DATABASE ... TEMPLATE`) and migrates the copy, so every run starts from
   the same rows. Names carry the branch: `bench_coaching_svc_<branch>_<scale>[_tpl]`.
2. Viewers (the busiest supervisor and coach, an agent in a trainee group), their API tokens and
   browser sessions, a 50-member coach group; one request per endpoint through Django's test
   client, counting its queries and keeping its SQL.
3. The production server as the README's production section starts it (`collectstatic`, then
   `gunicorn config.wsgi:application --workers 2`), DEBUG off, on a free 127.0.0.1 port, with
   e-mail going to a local SMTP server (`smtp_sink.py`).
4. For each round, each endpoint in turn with `wrk` (16 connections, 2 threads, N seconds) from a
   separate process; `GET /api/v1/me` in every round is the floor. CPU time of the gunicorn
   workers and of the PostgreSQL backends serving them is read from /proc before and after
   (utime + stime), divided by the requests served. Latency p50/p99 from wrk.
5. The pgbench floor: each endpoint's SELECTs as one pgbench transaction (16 clients), in simple
   mode (parse + plan + execute, as Django sends them) and prepared mode (planned once), with the
   backends' CPU per transaction.
6. The background work: N suggestions due at once, each with its expiry task as the services
   write it, expired by two `db_worker` processes plus one `sweep` run (as cron starts it);
   time until none is left and their notifications are written. Then e-mail delivery to the
   local SMTP server over a fixed window, per worker, checking no Message-ID arrives twice.
7. "2 web + 2 workers": every endpoint again while the two workers deliver the e-mail backlog.

Results: `bench/results/service-<date>-<commit>.json` and a Markdown report on stdout and beside
it (`.md`). `--compare before.json after.json` prints the before/after table.
The machine is shared: each measurement records the load average; CPU per request (not wall
time) is the figure that holds under contention, and rounds are repeated (medians reported).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "results"))
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SIZES = {"agents": 50_000, "groups": 3_000, "cases": 300_000, "sessions": 200_000}

# Targets of issue 11: ratio = CPU of /me per request / CPU of the endpoint per request.
TARGET_RATIO = {"api": 0.5, "html": 0.25, "write": 0.25}
TARGET_P99_MS = {"api": 250, "html": 600, "write": 250}
TARGET_LIST_QUERIES = 6


def say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()


def branch_tag() -> str:
    raw = os.environ.get("BENCH_TAG") or git("rev-parse", "--abbrev-ref", "HEAD") or "main"
    return re.sub(r"[^a-z0-9]+", "_", raw.lower()).strip("_")[:20] or "main"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- PostgreSQL administration (over template1, never other people's databases) ----------------
def admin(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(f"{PG}/template1", autocommit=True) as conn:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def db_exists(name: str) -> bool:
    return bool(admin("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))


def db_comment(name: str) -> str:
    rows = admin(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
    )
    return (rows[0][0] or "") if rows else ""


def drop_db(name: str) -> None:
    assert name.startswith("bench_coaching_svc_"), name
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)


def base_env(db: str, data_dir: Path, appname: str, smtp_port: int | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "TESTING", "EMAIL_BACKEND", "DATABASE_URL", "TEST_DATABASE_NAME"}
    }
    env.update(
        DATABASE_URL=f"{PG}/{db}".replace("postgresql://", "postgres://", 1),
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_DIR=str(data_dir),
        SECRET_KEY="bench-" + hashlib.sha256(db.encode()).hexdigest(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        PGAPPNAME=appname,
        SITE_URL="http://127.0.0.1",
    )
    if smtp_port is not None:
        env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port), EMAIL_TIMEOUT="10")
    return env


def template_signature() -> str:
    h = hashlib.sha256((ROOT / "demo" / "largeorg.py").read_bytes())
    h.update(json.dumps(SIZES, sort_keys=True).encode())
    return "bench template " + h.hexdigest()[:16]


def ensure_template(tpl: str, data_dir: Path, fresh: bool) -> None:
    sig = template_signature()
    if not fresh and db_exists(tpl) and db_comment(tpl) == sig:
        say(f"template database {tpl} is current ({sig})")
        return
    say(f"building the template database {tpl} ({sig}); a few minutes")
    drop_db(tpl)
    admin(f'CREATE DATABASE "{tpl}" TEMPLATE template0')
    env = base_env(tpl, data_dir, "bench-generate")
    manage(env, "migrate", "--no-input", "-v", "0")
    started = time.perf_counter()
    manage(env, "generate_large_org", *[f"--{k}={v}" for k, v in SIZES.items()])
    say(f"generated in {time.perf_counter() - started:,.0f} s; VACUUM ANALYZE")
    import psycopg

    with psycopg.connect(f"{PG}/{tpl}", autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    admin(f"COMMENT ON DATABASE \"{tpl}\" IS '{sig}'")


def copy_database(tpl: str, db: str, data_dir: Path) -> None:
    drop_db(db)
    started = time.perf_counter()
    admin(f'CREATE DATABASE "{db}" TEMPLATE "{tpl}"')
    say(f"copied {tpl} to {db} in {time.perf_counter() - started:,.1f} s; migrating the copy")
    manage(base_env(db, data_dir, "bench-migrate"), "migrate", "--no-input", "-v", "0")


# --- CPU time from /proc ------------------------------------------------------------------------
def proc_cpu(pid: int) -> float | None:
    """utime + stime of a process, in seconds (None when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children_of(ppid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == ppid:
            out.append(int(entry.name))
    return out


def backends(db: str, appname_prefix: str) -> list[int]:
    return [
        r[0]
        for r in admin(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name LIKE %s",
            (db, appname_prefix + "%"),
        )
    ]


class CpuMeter:
    """CPU seconds spent by a set of processes between `start()` and `stop()`. Processes that
    appear meanwhile count from zero; one that starts and ends inside the window is missed (the
    connection pools keep their backends, so that does not happen in practice)."""

    def __init__(self, pids: Any) -> None:
        self.pids = pids  # a callable returning the current pids
        self.before: dict[int, float] = {}

    def start(self) -> None:
        self.before = {p: c for p in self.pids() if (c := proc_cpu(p)) is not None}

    def stop(self) -> float:
        total = 0.0
        for p in set(self.pids()) | set(self.before):
            now = proc_cpu(p)
            if now is not None:
                total += now - self.before.get(p, 0.0)
        return total


# --- processes ----------------------------------------------------------------------------------
@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_http(url: str, headers: dict[str, str], timeout: float = 60) -> None:
    end = time.time() + timeout
    while True:
        try:
            req = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(req, timeout=5) as resp:
                if resp.status == 200:
                    return
        except Exception:
            if time.time() > end:
                raise
        time.sleep(0.5)


# --- endpoints ----------------------------------------------------------------------------------
@dataclass
class Endpoint:
    name: str
    label: str
    kind: str  # api | html | write
    method: str
    path: str
    headers: dict[str, str]
    body: str = ""
    is_list: bool = False
    expect: int = 200
    queries: int | None = None
    sql: list[str] = field(default_factory=list)


def prepare(run_db: str) -> list[Endpoint]:
    """Viewers, tokens, browser sessions and the fan-out group, in the copied database; then
    one request per endpoint through the test client for its query count and SQL."""
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from coaching.models import CoachingSession, SessionTraineeGroup
    from directory.models import CoachingArea, User, UserGroup, UserGroupMembership
    from tokens.services import token_issue

    def first(role: str) -> User:
        u = (
            User.objects.filter(username__startswith=f"lo.{role}.", is_active=True)
            .order_by("username")
            .first()
        )
        assert u is not None, f"no generated {role}"
        return u

    sup, coach = first("supervisor"), first("coach")
    link = SessionTraineeGroup.objects.order_by("pk").first()
    assert link is not None
    agent = (
        User.objects.filter(
            pk__in=UserGroupMembership.objects.filter(group_id=link.group_id).values("user_id"),
            is_active=True,
            username__startswith="lo.agent.",
        )
        .order_by("pk")
        .first()
    )
    assert agent is not None
    detail = (
        CoachingSession.objects.filter(suggested_by=sup, case_links__isnull=False)
        .order_by("-created_at", "-id")
        .first()
    )
    assert detail is not None
    group, created = UserGroup.objects.get_or_create(name="Bench fan-out 50")
    if created:
        # Not the measured coach: each POST of the run would add a suggestion and a notification
        # to their lists, and later rounds would measure longer lists than the first.
        members = list(
            User.objects.filter(username__startswith="lo.coach.", is_active=True)
            .exclude(pk=coach.pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:50]
        )
        UserGroupMembership.objects.bulk_create(
            [UserGroupMembership(group=group, user_id=m) for m in members]
        )
    trainee = User.objects.filter(username__startswith="lo.agent.", is_active=True).order_by("pk")[
        5
    ]
    area = CoachingArea.objects.filter(is_active=True).order_by("pk").first()
    assert area is not None

    def bearer(user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_issue(user=user, name='bench')[1]}"}

    def cookie(user: User) -> dict[str, str]:
        s = SessionStore()
        s[SESSION_KEY] = str(user.pk)
        s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        s[HASH_SESSION_KEY] = user.get_session_auth_hash()
        s.create()
        return {"Cookie": f"sessionid={s.session_key}"}

    t_sup, t_coach, t_agent = bearer(sup), bearer(coach), bearer(agent)
    c_sup, c_coach = cookie(sup), cookie(coach)
    body = json.dumps(
        {
            "title": "Bench fan-out",
            "coach": {"type": "group", "id": group.pk},
            "trainees": [{"type": "user", "id": trainee.pk}],
            "coaching_area_id": area.pk,
        }
    )
    s = "/api/v1/coaching-sessions"
    eps = [
        Endpoint("me", "GET /api/v1/me (floor)", "api", "GET", "/api/v1/me", t_sup),
        Endpoint(
            "api_sessions_author",
            "sessions ?suggested_by=me (busiest supervisor)",
            "api",
            "GET",
            f"{s}?suggested_by=me",
            t_sup,
            is_list=True,
        ),
        Endpoint(
            "api_sessions_coach",
            "sessions ?coach=me&state=suggested (busiest coach)",
            "api",
            "GET",
            f"{s}?coach=me&state=suggested",
            t_coach,
            is_list=True,
        ),
        Endpoint("api_sessions_agent", "sessions (agent)", "api", "GET", s, t_agent, is_list=True),
        Endpoint("api_session_detail", "sessions/{id}", "api", "GET", f"{s}/{detail.pk}", t_sup),
        Endpoint(
            "api_cases_search",
            "cases ?search=refund",
            "api",
            "GET",
            "/api/v1/cases?search=refund",
            t_sup,
            is_list=True,
        ),
        Endpoint(
            "api_notifications",
            "notifications (busiest coach)",
            "api",
            "GET",
            "/api/v1/notifications",
            t_coach,
            is_list=True,
        ),
        Endpoint(
            "api_users_typeahead",
            "users ?search=mar (typeahead)",
            "api",
            "GET",
            "/api/v1/users?search=mar",
            t_sup,
            is_list=True,
        ),
        Endpoint("html_home_coach", "HTML / (busiest coach)", "html", "GET", "/", c_coach),
        Endpoint("html_home_supervisor", "HTML / (busiest supervisor)", "html", "GET", "/", c_sup),
        Endpoint(
            "html_agent",
            "HTML /agents/<id>/ (supervisor)",
            "html",
            "GET",
            f"/agents/{agent.pk}/",
            c_sup,
        ),
        Endpoint(
            "html_notifications",
            "HTML /notifications/ (coach)",
            "html",
            "GET",
            "/notifications/",
            c_coach,
        ),
        Endpoint(
            "html_typeahead",
            "HTML typeahead /lookup/parties/?q=mar",
            "html",
            "GET",
            "/lookup/parties/?q=mar&field=coach",
            c_sup,
        ),
        Endpoint(
            "post_suggest",
            "POST sessions, 50-member coach group",
            "write",
            "POST",
            s,
            {**t_sup, "Content-Type": "application/json"},
            body=body,
            expect=201,
        ),
    ]
    count_queries(eps)
    from django.db import connections

    connections.close_all()
    return eps


def count_queries(eps: list[Endpoint]) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    for ep in eps:

        def call(ep: Endpoint = ep) -> int:
            r = client.generic(
                ep.method,
                ep.path,
                data=ep.body,
                content_type=ep.headers.get("Content-Type", "application/octet-stream"),
                headers=ep.headers,
            )
            return r.status_code

        status = call()  # warm-up: caches, first-use look-ups
        if status != ep.expect:
            sys.exit(f"{ep.name}: {ep.method} {ep.path} answered {status}, expected {ep.expect}")
        with CaptureQueriesContext(connection) as ctx:
            status = call()
        ep.queries = len(ctx.captured_queries)
        ep.sql = [q["sql"] for q in ctx.captured_queries]
        print(f"   {ep.name}: {status}, {ep.queries} queries")


# --- load ---------------------------------------------------------------------------------------
@dataclass
class Measure:
    endpoint: str
    round: int
    layout: str
    requests: int
    seconds: float
    rps: float
    cpu_app_ms: float
    cpu_db_ms: float
    p50_ms: float
    p99_ms: float
    errors: int
    load: str
    worker_cpu_ms: float | None = None
    emails: int | None = None


def run_wrk(
    ep: Endpoint, url: str, seconds: float, connections: int, meters: dict[str, CpuMeter]
) -> tuple[dict[str, Any], dict[str, float]]:
    env = dict(
        os.environ,
        BENCH_METHOD=ep.method,
        BENCH_PATH=ep.path,
        BENCH_HEADERS="\n".join(f"{k}: {v}" for k, v in ep.headers.items()),
        BENCH_BODY=ep.body,
    )
    for m in meters.values():
        m.start()
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(HERE / "wrk.lua"),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = {k: m.stop() for k, m in meters.items()}
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    return json.loads(line[6:]), cpu


def measure(
    ep: Endpoint,
    url: str,
    seconds: float,
    connections: int,
    meters: dict[str, CpuMeter],
    *,
    rnd: int,
    layout: str,
    sink: Path | None = None,
) -> Measure:
    load = loadavg()
    before = json.loads(sink.read_text())["messages"] if sink else 0
    w, cpu = run_wrk(ep, url, seconds, connections, meters)
    n = max(w["requests"], 1)
    errors = (
        w["status_errors"]
        + w["connect_errors"]
        + w["read_errors"]
        + w["write_errors"]
        + w["timeouts"]
    )
    m = Measure(
        endpoint=ep.name,
        round=rnd,
        layout=layout,
        requests=w["requests"],
        seconds=w["duration_us"] / 1e6,
        rps=w["requests"] / (w["duration_us"] / 1e6),
        cpu_app_ms=cpu["app"] * 1000 / n,
        cpu_db_ms=cpu["db"] * 1000 / n,
        p50_ms=w["p50_us"] / 1000,
        p99_ms=w["p99_us"] / 1000,
        errors=errors,
        load=load,
    )
    if "workers" in cpu:
        m.worker_cpu_ms = cpu["workers"] * 1000
        m.emails = json.loads(sink.read_text())["messages"] - before if sink else None
    flag = f"  {errors} ERRORS" if errors else ""
    print(
        f"   r{rnd} {ep.name:24} {m.rps:7.1f} req/s  cpu {m.cpu_app_ms:6.1f} + {m.cpu_db_ms:5.1f} ms"
        f"  p50 {m.p50_ms:7.1f}  p99 {m.p99_ms:7.1f} ms  load {load}{flag}",
        flush=True,
    )
    return m


# --- pgbench floor ------------------------------------------------------------------------------
def pgbench_floor(
    ep: Endpoint, db: str, seconds: float, clients: int, work: Path
) -> dict[str, Any]:
    selects = [
        " ".join(q.split()) + ";"
        for q in ep.sql
        if q.lstrip().upper().startswith(("SELECT", "WITH", "(SELECT"))
    ]
    if not selects:
        return {}
    script = work / f"{ep.name}.sql"
    script.write_text("\n".join(selects) + "\n")
    out: dict[str, Any] = {"statements": len(selects)}
    for mode in ("simple", "prepared"):
        meter = CpuMeter(lambda: backends(db, "pgbench"))
        env = dict(os.environ, PGAPPNAME="pgbench")
        args = ["pgbench", "-n", "-M", mode, "-c", str(clients), "-j", "2"]
        args += ["-T", str(max(1, round(seconds))), "-f", str(script), "-h", "127.0.0.1"]
        args += ["-U", "postgres", db]
        # pgbench's backends only exist while it runs: sample their CPU just before they end.
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(0.5)
        meter.start()
        last: dict[int, float] = {}
        while proc.poll() is None:
            for p in backends(db, "pgbench"):
                c = proc_cpu(p)
                if c is not None:
                    last[p] = c
            time.sleep(0.2)
        text = proc.stdout.read().decode() if proc.stdout else ""
        tps = re.search(r"tps = ([\d.]+)", text)
        lat = re.search(r"latency average = ([\d.]+) ms", text)
        txns = re.search(r"number of transactions actually processed: (\d+)", text)
        if not (tps and txns):
            out[mode] = {"error": text[-500:]}
            continue
        used = sum(last[p] - meter.before.get(p, 0.0) for p in last)
        # The transactions counted by pgbench span the whole run; the CPU is from 0.5 s in.
        done = int(txns.group(1)) * max(0.0, 1 - 0.5 / max(seconds, 1))
        out[mode] = {
            "tps": float(tps.group(1)),
            "latency_ms": float(lat.group(1)) if lat else None,
            "cpu_db_ms": used * 1000 / max(done, 1),
        }
    return out


# --- background work ----------------------------------------------------------------------------
def add_due(count: int) -> list[int]:
    """`count` suggestions due now, each with the expiry task the services would have queued."""
    from django.db import connections, transaction
    from django.utils import timezone

    from coaching.models import CoachingSession, State
    from demo.largeorg import add_due_suggestions

    before = set(
        CoachingSession.objects.filter(
            state=State.SUGGESTED, expires_at__lte=timezone.now()
        ).values_list("pk", flat=True)
    )
    add_due_suggestions(count, say=lambda m: None)
    ids = sorted(
        set(
            CoachingSession.objects.filter(
                state=State.SUGGESTED, expires_at__lte=timezone.now()
            ).values_list("pk", flat=True)
        )
        - before
    )
    try:
        from coaching.tasks import expire_suggestion
    except ImportError:
        expire_suggestion = None
    if expire_suggestion is not None:
        from django_tasks_db.models import DBTaskResult

        with transaction.atomic():
            expire_suggestion.using(run_after=timezone.now()).enqueue(ids[0])
            proto = DBTaskResult.objects.order_by("-enqueued_at").first()
            assert proto is not None
            rows = []
            for pk in ids[1:]:
                row = DBTaskResult(
                    **{
                        f.attname: getattr(proto, f.attname)
                        for f in DBTaskResult._meta.concrete_fields
                        if f.attname != "id"
                    }
                )
                row.args_kwargs = {"args": [pk], "kwargs": {}}
                rows.append(row)
            DBTaskResult.objects.bulk_create(rows, batch_size=5000)
    connections.close_all()
    return ids


def background(
    args: argparse.Namespace, run_db: str, data_dir: Path, smtp_port: int, sink: Path, logs: Path
) -> dict[str, Any]:
    from django.db import connections
    from django.db.models import F
    from django.tasks import TaskResultStatus
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from coaching.models import CoachingSession, State
    from notifications.models import EmailStatus, Notification

    # The web phase's POSTs queued thousands of e-mails. Parked for an hour so the expiry is
    # measured on a queue that holds only what it writes itself; released for "2 web + 2 workers".
    # Their rescue tasks too (due a minute after each batch): not yet ready when parked, they
    # would otherwise deliver the parked backlog in the middle of the expiry.
    parked = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path__startswith="notifications."
    )
    parked_ids = list(parked.values_list("pk", flat=True))
    DBTaskResult.objects.filter(pk__in=parked_ids).update(
        run_after=F("run_after") + timedelta(hours=1)
    )
    say(
        f"background: {len(parked_ids):,} e-mail tasks of the web phase parked; adding {args.due:,} "
        f"suggestions due at once (load {loadavg()})"
    )
    ids = add_due(args.due)
    sent_before = Notification.objects.filter(email_status=EmailStatus.SENT).count()
    worker_env = base_env(run_db, data_dir, "bench-worker", smtp_port)
    worker_args = [PY, "manage.py", "db_worker", "--queue-name", "*", "--no-reload", "-v", "0"]
    workers_meter = CpuMeter(lambda: backends(run_db, "bench-worker"))
    result: dict[str, Any] = {"due": len(ids), "workers": 2, "load_start": loadavg()}
    with contextlib.ExitStack() as stack:
        procs = [
            stack.enter_context(process(worker_args, worker_env, logs / f"worker{i}.log"))
            for i in range(2)
        ]
        started = time.perf_counter()
        sink_start = json.loads(sink.read_text())["messages"]
        workers_meter.start()
        cpu0 = {p.pid: proc_cpu(p.pid) or 0.0 for p in procs}
        sweep = subprocess.Popen(
            [PY, "manage.py", "sweep"],
            cwd=ROOT,
            env=worker_env,
            stdout=open(logs / "sweep.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        left = len(ids)
        deadline = started + args.expiry_timeout
        while time.perf_counter() < deadline:
            left = CoachingSession.objects.filter(pk__in=ids, state=State.SUGGESTED).count()
            if left == 0:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        if sweep.poll() is None:  # past the deadline: the measurement is what was done by then
            sweep.terminate()
            sweep.wait(timeout=60)
        expired = len(ids) - left
        notes = Notification.objects.filter(session_id__in=ids, kind="session_expired").count()
        result.update(
            expired=expired,
            left=left,
            seconds=elapsed,
            per_second=expired / elapsed,
            per_second_per_worker=expired / elapsed / 2,
            expired_notifications=notes,
            load_end=loadavg(),
        )
        say(
            f"expiry: {expired:,} of {len(ids):,} in {elapsed:,.1f} s "
            f"({expired / elapsed:,.0f}/s, {expired / elapsed / 2:,.0f}/s per worker), "
            f"{notes:,} notifications; load {loadavg()}"
        )
        # E-mail: a fixed window once the expiry's e-mails are queued.
        m0 = json.loads(sink.read_text())["messages"]
        t0 = time.perf_counter()
        time.sleep(args.email_seconds)
        m1 = json.loads(sink.read_text())["messages"]
        window = time.perf_counter() - t0
        worker_cpu = sum((proc_cpu(p.pid) or 0.0) - cpu0[p.pid] for p in procs)
        db_cpu = workers_meter.stop()
        result["email"] = {
            "window_s": window,
            "sent": m1 - m0,
            "per_second": (m1 - m0) / window,
            "per_second_per_worker": (m1 - m0) / window / 2,
            "load": loadavg(),
        }
        say(
            f"e-mail: {m1 - m0:,} in {window:,.1f} s ({(m1 - m0) / window:,.0f}/s, "
            f"{(m1 - m0) / window / 2:,.0f}/s per worker); load {loadavg()}"
        )
        result["worker_cpu_s"] = worker_cpu
        result["worker_db_cpu_s"] = db_cpu
        result["sink_messages_total"] = m1 - sink_start
    DBTaskResult.objects.filter(pk__in=parked_ids).update(run_after=timezone.now())
    # The sink rewrites its stats every second: read them once it has written after the workers
    # stopped, or the last second's messages would be missing from its count.
    time.sleep(2.5)
    stats = json.loads(sink.read_text())
    sent = Notification.objects.filter(email_status=EmailStatus.SENT).count() - sent_before
    result["exactly_once"] = {
        "sink_messages": stats["messages"],
        "sink_connections": stats["connections"],
        "duplicate_message_ids": stats["duplicates"],
        "notifications_marked_sent": sent,
        "sending_left": Notification.objects.filter(email_status=EmailStatus.SENDING).count(),
    }
    say(f"exactly once: {result['exactly_once']}")
    connections.close_all()
    return result


# --- report -------------------------------------------------------------------------------------
def summarize(eps: list[Endpoint], measures: list[Measure], layout: str) -> list[dict[str, Any]]:
    rows = []
    by = {(m.endpoint, m.round): m for m in measures if m.layout == layout}
    rounds = sorted({m.round for m in measures if m.layout == layout})
    for ep in eps:
        ms = [by[(ep.name, r)] for r in rounds if (ep.name, r) in by]
        if not ms:
            continue
        ratios = [
            (by[("me", m.round)].cpu_app_ms + by[("me", m.round)].cpu_db_ms)
            / (m.cpu_app_ms + m.cpu_db_ms)
            for m in ms
            if ("me", m.round) in by
        ]

        def med(attr: str, ms: list[Measure] = ms) -> float:
            return statistics.median(getattr(m, attr) for m in ms)

        row = {
            "endpoint": ep.name,
            "label": ep.label,
            "kind": ep.kind,
            "cpu_app_ms": med("cpu_app_ms"),
            "cpu_db_ms": med("cpu_db_ms"),
            "ratio": statistics.median(ratios) if ratios else None,
            "ratio_range": [min(ratios), max(ratios)] if ratios else None,
            "rps": med("rps"),
            "p50_ms": med("p50_ms"),
            "p99_ms": med("p99_ms"),
            "queries": ep.queries,
            "errors": sum(m.errors for m in ms),
            "rounds": len(ms),
            "loads": [m.load for m in ms],
        }
        if ms[0].emails is not None:
            row["emails_per_s"] = statistics.median(
                (m.emails or 0) / max(m.seconds, 0.001) for m in ms
            )
        rows.append(row)
    return rows


def verdict(row: dict[str, Any]) -> str:
    if row["endpoint"] == "me":
        return "floor"
    misses = []
    target = TARGET_RATIO[row["kind"]]
    if row["ratio"] is not None and row["ratio"] < target:
        misses.append(f"ratio {row['ratio']:.2f} < {target}")
    if row["p99_ms"] > TARGET_P99_MS[row["kind"]]:
        misses.append(f"p99 {row['p99_ms']:.0f} > {TARGET_P99_MS[row['kind']]} ms")
    if row.get("is_list") and (row["queries"] or 0) > TARGET_LIST_QUERIES:
        misses.append(f"{row['queries']} queries > {TARGET_LIST_QUERIES}")
    return "met" if not misses else "missed: " + "; ".join(misses)


def markdown(res: dict[str, Any]) -> str:
    info = res["info"]
    out = [
        f"## Whole service, {info['date']}, commit {info['commit']}",
        "",
        f"{info['scale']:,} agents; gunicorn --workers 2; wrk -c{info['connections']} -t2, "
        f"{info['seconds']} s per endpoint, {info['rounds']} round(s); CPU per request = "
        "(gunicorn workers + their PostgreSQL backends, utime+stime from /proc) / requests; "
        f"ratio = /me's CPU per request / the endpoint's, same round, median of rounds. Load "
        f"average at start {info['load_start']}, at end {info.get('load_end', '?')}.",
        "",
        "| endpoint | CPU ms/request (app + db) | ratio to /me (range) | req/s | p50 | p99 "
        "| queries | pgbench floor db ms (simple / prepared) | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    floors = res.get("pgbench", {})
    for row in res["layouts"].get("web", []):
        f = floors.get(row["endpoint"], {})
        fl = (
            f"{f['simple']['cpu_db_ms']:.2f} / {f['prepared']['cpu_db_ms']:.2f}"
            if "cpu_db_ms" in f.get("simple", {}) and "cpu_db_ms" in f.get("prepared", {})
            else ""
        )
        rr = row["ratio_range"]
        ratio = f"{row['ratio']:.2f} ({rr[0]:.2f}-{rr[1]:.2f})" if row["ratio"] else ""
        out.append(
            f"| {row['label']} | {row['cpu_app_ms']:.1f} + {row['cpu_db_ms']:.1f} | {ratio} "
            f"| {row['rps']:.0f} | {row['p50_ms']:.0f} ms | {row['p99_ms']:.0f} ms "
            f"| {row['queries']} | {fl} | {verdict(row)} |"
        )
    if res.get("background"):
        b = res["background"]
        e = b.get("email", {})
        eo = b.get("exactly_once", {})
        out += [
            "",
            f"**Expiry**: {b['expired']:,} of {b['due']:,} suggestions due at once expired in "
            f"{b['seconds']:,.1f} s with 2 workers ({b['per_second']:,.0f}/s, "
            f"{b['per_second_per_worker']:,.0f}/s per worker), {b['expired_notifications']:,} "
            f"expiry notifications written (load {b['load_start']} -> {b['load_end']}). "
            f"**E-mail**: {e.get('sent', 0):,} delivered to the local SMTP server in "
            f"{e.get('window_s', 0):,.0f} s ({e.get('per_second', 0):,.0f}/s, "
            f"{e.get('per_second_per_worker', 0):,.0f}/s per worker); SMTP connections opened "
            f"{eo.get('sink_connections')}, Message-IDs received twice: "
            f"{eo.get('duplicate_message_ids')}.",
        ]
    if res["layouts"].get("web+workers"):
        out += [
            "",
            "**2 web + 2 worker processes on one PostgreSQL** (the workers deliver the e-mail "
            "backlog meanwhile):",
            "",
            "| endpoint | CPU ms/request (app + db) | ratio to /me | p50 | p99 | e-mails/s meanwhile |",
            "|---|---|---|---|---|---|",
        ]
        for row in res["layouts"]["web+workers"]:
            ratio = f"{row['ratio']:.2f}" if row["ratio"] else ""
            out.append(
                f"| {row['label']} | {row['cpu_app_ms']:.1f} + {row['cpu_db_ms']:.1f} | {ratio} "
                f"| {row['p50_ms']:.0f} ms | {row['p99_ms']:.0f} ms "
                f"| {row.get('emails_per_s', 0):,.0f} |"
            )
    return "\n".join(out) + "\n"


def compare(before_path: str, after_path: str) -> str:
    b = json.loads(Path(before_path).read_text())
    a = json.loads(Path(after_path).read_text())
    brows = {r["endpoint"]: r for r in b["layouts"]["web"]}
    out = [
        f"| endpoint | before: CPU ms (app + db) / ratio / p99 / queries "
        f"({b['info']['commit']}) | after ({a['info']['commit']}) | target | |",
        "|---|---|---|---|---|",
    ]

    def cell(r: dict[str, Any] | None) -> str:
        if not r:
            return ""
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") else "-"
        return (
            f"{r['cpu_app_ms']:.1f} + {r['cpu_db_ms']:.1f} / {ratio} / {r['p99_ms']:.0f} ms / "
            f"{r['queries']}"
        )

    for r in a["layouts"]["web"]:
        t = (
            "floor"
            if r["endpoint"] == "me"
            else f">= {TARGET_RATIO[r['kind']]}, p99 <= {TARGET_P99_MS[r['kind']]} ms"
            + (f", <= {TARGET_LIST_QUERIES} q" if r.get("is_list") else "")
        )
        out.append(
            f"| {r['label']} | {cell(brows.get(r['endpoint']))} | {cell(r)} | {t} | {verdict(r)} |"
        )
    return "\n".join(out) + "\n"


def save(res: dict[str, Any], eps: list[Endpoint], measures: list[Measure], stem: str) -> str:
    """Write what is measured so far (a run cut short keeps its finished phases)."""
    res["endpoints"] = [
        {k: v for k, v in asdict(e).items() if k not in ("headers", "body")} for e in eps
    ]
    res["measures"] = [asdict(m) for m in measures]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(res, indent=1, default=str))
    report = markdown(res)
    (RESULTS / f"{stem}.md").write_text(report)
    return report


# --- main ---------------------------------------------------------------------------------------
def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    say("wrk is missing: installing the Debian package")
    if os.geteuid() != 0:
        sys.exit("wrk is not installed and this is not root: run `apt-get install wrk` first")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=20, help="per endpoint and round (20)")
    p.add_argument("--rounds", type=int, default=3, help="rounds over every endpoint (3)")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn --workers (2)")
    p.add_argument("--only", default="", help="comma-separated endpoint names (me always runs)")
    p.add_argument("--pgbench-seconds", type=float, default=10)
    p.add_argument("--due", type=int, default=50_000, help="suggestions due at once (50,000)")
    p.add_argument("--expiry-timeout", type=float, default=900)
    p.add_argument("--email-seconds", type=float, default=30)
    p.add_argument("--skip", default="", help="comma-separated: web,pgbench,background,layout2")
    p.add_argument("--fresh", action="store_true", help="rebuild the template database")
    p.add_argument("--keep", action="store_true", help="keep the run's database afterwards")
    p.add_argument("--label", default="", help="a word for the result file name (e.g. before)")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = p.parse_args()
    if args.compare:
        print(compare(*args.compare))
        return
    skip = set(filter(None, args.skip.split(",")))
    only = set(filter(None, args.only.split(",")))
    ensure_wrk()
    for tool in ("pgbench",):
        if not shutil.which(tool) and tool not in skip:
            sys.exit(f"{tool} is missing (Debian package postgresql-client)")

    tag = branch_tag()
    tpl, run_db = f"bench_coaching_svc_{tag}_50000_tpl", f"bench_coaching_svc_{tag}_50000"
    work = Path(tempfile.mkdtemp(prefix=f"bench-service-{tag}-"))
    data_dir = work / "data"
    data_dir.mkdir()
    logs = work / "logs"
    logs.mkdir()
    commit = os.environ.get("BENCH_COMMIT") or (
        git("rev-parse", "--short", "HEAD")
        + ("+dirty" if git("status", "--porcelain", "-uno") else "")
    )
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "scale": SIZES["agents"],
        "sizes": SIZES,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "connections": args.connections,
        "web_workers": args.web_workers,
        "load_start": loadavg(),
        "cpus": os.cpu_count(),
    }
    say(f"whole-service benchmark, commit {commit}, load {info['load_start']}; work dir {work}")
    ensure_template(tpl, data_dir, args.fresh)
    copy_database(tpl, run_db, data_dir)

    smtp_port, web_port = free_port(), free_port()
    sink = work / "smtp.json"
    env_self = base_env(run_db, data_dir, "bench-orchestrator", smtp_port)
    os.environ.update(env_self)
    sys.path.insert(0, str(ROOT))
    web_env = base_env(run_db, data_dir, "bench-web", smtp_port)
    say("collectstatic")
    manage(web_env, "collectstatic", "--no-input", "-v", "0")
    say("preparing viewers, tokens, sessions; one request per endpoint for its queries")
    eps = prepare(run_db)
    if only:
        eps = [e for e in eps if e.name == "me" or e.name in only]

    res: dict[str, Any] = {"info": info, "endpoints": [], "layouts": {}, "pgbench": {}}
    stem = f"service-{time.strftime('%Y%m%d-%H%M')}-{commit.replace('+', '-')}"
    if args.label:
        stem += f"-{args.label}"
    measures: list[Measure] = []
    url = f"http://127.0.0.1:{web_port}"
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            process(
                [PY, str(HERE / "smtp_sink.py"), "--port", str(smtp_port), "--stats", str(sink)],
                env_self,
                logs / "smtp.log",
            )
        )
        gunicorn = stack.enter_context(
            process(
                [
                    GUNICORN,
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{web_port}",
                    "--workers",
                    str(args.web_workers),
                ],
                web_env,
                logs / "gunicorn.log",
            )
        )
        me = eps[0]
        wait_http(url + me.path, me.headers)
        while not sink.exists():
            time.sleep(0.2)
        meters = {
            "app": CpuMeter(lambda: [gunicorn.pid, *children_of(gunicorn.pid)]),
            "db": CpuMeter(lambda: backends(run_db, "bench-web")),
        }
        say(f"gunicorn --workers {args.web_workers} on {url}; warming up each endpoint (2 s)")
        for ep in [] if "web" in skip else eps:
            run_wrk(ep, url + ep.path, 2, args.connections, meters)
        for rnd in range(1, 0 if "web" in skip else args.rounds + 1):
            say(f"round {rnd} of {args.rounds} (load {loadavg()})")
            for ep in eps:
                measures.append(
                    measure(
                        ep,
                        url + ep.path,
                        args.seconds,
                        args.connections,
                        meters,
                        rnd=rnd,
                        layout="web",
                    )
                )
        res["layouts"]["web"] = summarize(eps, measures, "web")
        for row in res["layouts"]["web"]:
            row["is_list"] = next(e.is_list for e in eps if e.name == row["endpoint"])

        save(res, eps, measures, stem)
        if "pgbench" not in skip and "web" not in skip:
            say(f"pgbench floors ({args.pgbench_seconds:.0f} s per mode, load {loadavg()})")
            for ep in eps:
                if ep.method != "GET":
                    continue
                res["pgbench"][ep.name] = f = pgbench_floor(
                    ep, run_db, args.pgbench_seconds, args.connections, work
                )
                if f:
                    print(
                        f"   {ep.name:24} "
                        + "  ".join(
                            f"{mode}: {f[mode].get('cpu_db_ms', float('nan')):.2f} ms db, "
                            f"{f[mode].get('tps', 0):,.0f} tps"
                            for mode in ("simple", "prepared")
                            if mode in f
                        ),
                        flush=True,
                    )

        save(res, eps, measures, stem)
        if "background" not in skip:
            res["background"] = background(args, run_db, data_dir, smtp_port, sink, logs)
            save(res, eps, measures, stem)

        if "layout2" not in skip:
            say("2 web + 2 worker processes: every endpoint while the workers deliver e-mail")
            worker_env = base_env(run_db, data_dir, "bench-worker", smtp_port)
            worker_args = [
                PY,
                "manage.py",
                "db_worker",
                "--queue-name",
                "*",
                "--no-reload",
                "-v",
                "0",
            ]
            for i in range(2):
                stack.enter_context(process(worker_args, worker_env, logs / f"worker-l2-{i}.log"))
            time.sleep(3)
            meters["workers"] = CpuMeter(lambda: backends(run_db, "bench-worker"))
            for ep in eps:
                measures.append(
                    measure(
                        ep,
                        url + ep.path,
                        args.seconds,
                        args.connections,
                        meters,
                        rnd=1,
                        layout="web+workers",
                        sink=sink,
                    )
                )
            res["layouts"]["web+workers"] = summarize(eps, measures, "web+workers")
    info["load_end"] = loadavg()
    report = save(res, eps, measures, stem)
    print()
    print(report)
    say(f"results: bench/results/{stem}.json and .md; logs in {logs}")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        drop_db(run_db)


if __name__ == "__main__":
    main()
