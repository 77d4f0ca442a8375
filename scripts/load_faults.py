#!/usr/bin/env python3
"""Load with faults: a bounded mixed workload on PostgreSQL, then a check of every outcome.

Runs the product as in production (gunicorn with 2 web workers, 2 `db_worker` processes, SMTP to
a local aiosmtpd) on a fresh PostgreSQL database, and lets many users act on the same suggestions
at once for `--seconds`: supervisors suggest (to a coach group and a trainee group), edit with
If-Match and delete; every coach of the group schedules and declines; every trainee declines;
everyone reads lists. Meanwhile, on a fixed schedule: SMTP refuses messages for a while, a worker
is SIGKILLed (once in the middle of a send) and restarted, a web worker is SIGKILLed.

Then it checks: no 5xx; every refusal is a clean 404/409/412/422 where the contract says so;
every accepted change is in the audit trail once and each session had at most one terminal
transition; the notifications are exactly those decisions.md derives from the audit trail; every
e-mail was accepted by the SMTP server exactly once (or, for the one whose worker died at the
server, marked uncertain and not resent). Prints a summary and writes the figures to
bench/results/load-faults-postgresql.json. Exits non-zero on any violation.

Without PostgreSQL it says SKIPPED and exits 0 (1 with CI=true). The client's choices come from a
fixed seed; what the server does under contention varies from run to run, and every check holds
for any interleaving.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
RESULTS = ROOT / "bench" / "results" / "load-faults-postgresql.json"

# What each action may answer. Anything else (a 5xx above all) fails the run.
ALLOWED = {
    "suggest": {201},
    "edit": {200, 409, 412},  # 412: another edit came first; 409: it was closed meanwhile
    "delete": {204, 409},
    "schedule": {200, 409},
    "decline_coach": {200, 409},
    "decline_trainee": {200, 409},  # a trainee who lost the race is told it is closed
    "get": {200, 404},  # 404: an agent no longer sees a suggestion canceled meanwhile
    "list": {200},
    "inbox": {200},
}
ACCEPTED_EVENT = {
    "suggest": "suggested",
    "edit": "edited",
    "delete": "deleted",
    "schedule": "scheduled",
    "decline_coach": "declined_by_coach",
    "decline_trainee": "declined_by_trainee",
}
TERMINAL = {"scheduled", "deleted", "declined_by_coach", "declined_by_trainee", "expired"}


def say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def pg_reachable() -> bool:
    import psycopg

    try:
        psycopg.connect(
            ADMIN_URL.replace("postgres://", "postgresql://", 1), connect_timeout=3
        ).close()
    except psycopg.Error:
        return False
    return True


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(
        ADMIN_URL.replace("postgres://", "postgresql://", 1), autocommit=True
    ) as c:
        c.execute(sql)


# --- the organisation under load -------------------------------------------------------------
@dataclass
class Persona:
    kind: str  # supervisor | coach | trainee
    username: str
    token: str


def build_org() -> tuple[list[Persona], int, int, int]:
    """The demo organisation plus more people: 4 supervisors, a coach group of 6 and a trainee
    group of 6. Returns the personas (with API tokens), the two group ids and an area id."""
    from django.contrib.auth.models import Group

    from demo.loader import load
    from directory.models import CoachingArea, User, UserGroup, UserGroupMembership
    from directory.permissions import Role
    from tokens.services import token_issue

    load(extras=False)
    roles = {r: Group.objects.get(name=r.value) for r in Role}

    def person(username: str, role: Role) -> User:
        user, _ = User.objects.get_or_create(
            username=username,
            defaults={
                "display_name": username.replace(".", " ").title(),
                "email": f"{username}@load.test",
            },
        )
        user.groups.set([roles[role]])
        return user

    supervisors = [User.objects.get(username=u) for u in ("sam.supervisor", "sue.supervisor")]
    supervisors += [person(f"load.supervisor{i}", Role.SUPERVISOR) for i in (1, 2)]
    coaches = [User.objects.get(username=u) for u in ("cora.coach", "carl.coach")]
    coaches += [person(f"load.coach{i}", Role.COACH) for i in range(1, 5)]
    trainees = [User.objects.get(username=u) for u in ("alice.agent", "bob.agent")]
    trainees += [person(f"load.agent{i}", Role.AGENT) for i in range(1, 5)]
    coach_group = UserGroup.objects.create(name="Load Coaches")
    trainee_group = UserGroup.objects.create(name="Load Trainees")
    for group, members in ((coach_group, coaches), (trainee_group, trainees)):
        for user in members:
            UserGroupMembership.objects.create(group=group, user=user)
    personas = [
        Persona(kind, u.username, token_issue(user=u, name="load")[1])
        for kind, users in (("supervisor", supervisors), ("coach", coaches), ("trainee", trainees))
        for u in users
    ]
    area = CoachingArea.objects.get(name="Empathy").pk
    return personas, coach_group.pk, trainee_group.pk, area


# --- the workload -------------------------------------------------------------------------------
@dataclass
class Call:
    persona: str
    action: str
    session: int | None
    status: int | str  # "dropped" when the connection died (a killed web worker)
    ms: float


class Workload:
    def __init__(
        self,
        base: str,
        personas: list[Persona],
        coach_group: int,
        trainee_group: int,
        area: int,
        seed: int,
    ):
        self.base = base
        self.personas = personas
        self.coach_group = coach_group
        self.trainee_group = trainee_group
        self.area = area
        self.seed = seed
        self.calls: list[Call] = []
        self.recent: list[int] = []  # the suggestions everybody acts on: the newest ones
        self.mine: dict[str, list[int]] = defaultdict(list)  # by author
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def pick(self, rng: random.Random) -> int | None:
        with self.lock:
            return rng.choice(self.recent[-12:]) if self.recent else None

    def call(
        self,
        p: Persona,
        action: str,
        method: str,
        path: str,
        body: Any = None,
        session: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        from tests.faults.harness import request

        start = time.monotonic()
        try:
            answer = request(
                self.base, method, path, body, token=p.token, headers=headers, timeout=60
            )
            status: int | str = answer.status
        except OSError:
            answer, status = None, "dropped"
        ms = (time.monotonic() - start) * 1000
        with self.lock:
            self.calls.append(Call(p.username, action, session, status, ms))
        return answer

    def suggest(self, p: Persona, rng: random.Random) -> None:
        body = {
            "title": f"Load {rng.randrange(10**6)}",
            "coach": {"type": "group", "id": self.coach_group},
            "trainees": [{"type": "group", "id": self.trainee_group}],
            "coaching_area_id": self.area,
        }
        answer = self.call(p, "suggest", "POST", "/api/v1/coaching-sessions", body)
        if answer is not None and answer.status == 201:
            with self.lock:
                self.recent.append(answer.json()["id"])
                self.mine[p.username].append(answer.json()["id"])

    def run_persona(self, p: Persona, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        while not self.stop.is_set():
            roll = rng.random()
            sid = self.pick(rng)
            path = f"/api/v1/coaching-sessions/{sid}"
            if p.kind == "supervisor":
                with self.lock:
                    own = self.mine[p.username][-4:]
                if own:  # authors change their own newest suggestions, racing the coaches
                    sid = rng.choice(own)
                    path = f"/api/v1/coaching-sessions/{sid}"
                if roll < 0.35 or sid is None:
                    self.suggest(p, rng)
                elif roll < 0.55:
                    got = self.call(p, "get", "GET", path, session=sid)
                    if got is not None and got.status == 200 and got.json()["actions"]["edit"]:
                        etag = got.headers.get("etag", "")
                        self.call(
                            p,
                            "edit",
                            "PATCH",
                            path,
                            {"title": f"Edited {rng.randrange(1000)}"},
                            sid,
                            headers={"If-Match": etag},
                        )
                elif roll < 0.65:
                    got = self.call(p, "get", "GET", path, session=sid)
                    if got is not None and got.status == 200 and got.json()["actions"]["delete"]:
                        self.call(p, "delete", "DELETE", path, session=sid)
                else:
                    self.call(
                        p, "list", "GET", "/api/v1/coaching-sessions?suggested_by=me&limit=20"
                    )
            elif p.kind == "coach":
                if sid is None or roll < 0.3:
                    self.call(
                        p, "list", "GET", "/api/v1/coaching-sessions?coach=me&state=suggested"
                    )
                elif roll < 0.6:
                    starts = (datetime.now(UTC) + timedelta(days=rng.randint(1, 20))).isoformat()
                    self.call(
                        p,
                        "schedule",
                        "POST",
                        f"{path}/schedule",
                        {"starts_at": starts, "duration_minutes": 30},
                        sid,
                    )
                elif roll < 0.8:
                    self.call(
                        p,
                        "decline_coach",
                        "POST",
                        f"{path}/decline",
                        {"reason": f"Busy ({p.username})"},
                        sid,
                    )
                else:
                    self.call(p, "get", "GET", path, session=sid)
            else:
                if sid is None or roll < 0.45:
                    self.call(p, "list", "GET", "/api/v1/coaching-sessions?state=suggested")
                elif roll < 0.65:
                    self.call(
                        p,
                        "decline_trainee",
                        "POST",
                        f"{path}/decline",
                        {"reason": f"Away ({p.username})"},
                        sid,
                    )
                elif roll < 0.85:
                    self.call(p, "get", "GET", path, session=sid)
                else:
                    self.call(p, "inbox", "GET", "/api/v1/notifications?limit=20")


# --- the faults ---------------------------------------------------------------------------------
class Faults:
    """The fault schedule, by elapsed fraction of the run."""

    def __init__(
        self,
        smtp: Any,
        workers: list[subprocess.Popen[bytes]],
        web: Any,
        env: dict[str, str],
        log: Path,
    ):
        self.smtp = smtp
        self.workers = workers
        self.web = web
        self.env = env
        self.log = log
        self.done: list[str] = []

    def restart_worker(self, i: int) -> None:
        from tests.faults.harness import start_worker

        self.workers[i] = start_worker(self.env, log=self.log)

    def run(self, seconds: float, stop: threading.Event) -> None:
        plan = [
            (0.20, "SMTP refuses the next 25 messages", lambda: self.smtp.refuse(25)),
            (0.40, "worker 1 SIGKILLed, restarted 2 s later", self.kill_worker_idle),
            (0.55, "a web worker SIGKILLed (gunicorn starts another)", self.kill_web_worker),
            (
                0.70,
                "worker 2 SIGKILLed while the SMTP server holds its message",
                self.kill_worker_mid_send,
            ),
        ]
        start = time.monotonic()
        for at, what, act in plan:
            while time.monotonic() - start < at * seconds:
                if stop.wait(0.2):
                    return
            say(f"fault at {time.monotonic() - start:.0f}s: {what}")
            act()
            self.done.append(what)

    def kill_worker_idle(self) -> None:
        self.workers[0].send_signal(signal.SIGKILL)
        self.workers[0].wait(timeout=30)
        time.sleep(2)
        self.restart_worker(0)

    def kill_web_worker(self) -> None:
        pids = self.web.workers()
        if pids:
            os.kill(pids[0], signal.SIGKILL)

    def kill_worker_mid_send(self) -> None:
        # Stop worker 1 so that worker 2 takes the held message.
        self.workers[0].send_signal(signal.SIGTERM)
        self.workers[0].wait(timeout=60)
        self.smtp.hold(1)
        if self.smtp.holding.wait(timeout=60):
            self.workers[1].send_signal(signal.SIGKILL)
            self.workers[1].wait(timeout=30)
        self.smtp.release()
        self.restart_worker(1)
        self.restart_worker(0)


# --- the checks ---------------------------------------------------------------------------------
def expected_notifications() -> Counter[tuple[int, int, str, str]]:
    """decisions.md's notifications, derived from the audit trail: (session, recipient, kind,
    text). Nobody is notified of their own action; groups expand to their active members."""
    from coaching.models import AttendeeRole, CoachingSession, SessionAttendee, SessionEvent
    from directory.models import UserGroupMembership
    from tests.decisions import TEXT

    members: dict[int, set[int]] = defaultdict(set)
    for gid, uid in UserGroupMembership.objects.values_list("group_id", "user_id"):
        members[gid].add(uid)
    # The invitation list: the trainee users when it was scheduled (groups expanded then).
    invited: dict[int, set[int]] = defaultdict(set)
    for sid, uid in SessionAttendee.objects.filter(role=AttendeeRole.TRAINEE).values_list(
        "session_id", "user_id"
    ):
        invited[sid].add(uid)
    sessions = {s.pk: s for s in CoachingSession.objects.all()}
    out: Counter[tuple[int, int, str, str]] = Counter()
    for e in SessionEvent.objects.select_related("actor").order_by("id"):
        s = sessions[e.session_id]
        coach: set[int] = {s.coach_user_id} if s.coach_user_id else members[s.coach_group_id or 0]
        author: set[int] = {s.suggested_by_id} if s.suggested_by_id else set()
        name = str(e.actor) if e.actor else ""
        reason = e.changes.get("reason", "") if isinstance(e.changes, dict) else ""
        kinds: dict[str, tuple[str, set[int], str] | list[tuple[str, set[int], str]]] = {
            "suggested": (
                "session_suggested",
                coach,
                TEXT["session_suggested"].format(author=s.suggested_by_name),
            ),
            "deleted": (
                "session_canceled_by_supervisor",
                coach,
                TEXT["session_canceled_by_supervisor"],
            ),
            "scheduled": [
                ("session_scheduled", author, TEXT["session_scheduled"].format(actor=name)),
                (
                    "session_invitation",
                    invited[s.pk],
                    TEXT["session_invitation"].format(actor=name),
                ),
            ],
            "declined_by_coach": (
                "session_canceled_by_coach",
                author,
                TEXT["session_canceled_by_coach"].format(actor=name, reason=reason),
            ),
            "declined_by_trainee": (
                "session_canceled_by_trainee",
                author | coach,
                TEXT["session_canceled_by_trainee"].format(actor=name, reason=reason),
            ),
        }
        if e.action not in kinds:
            continue  # edits of the title notify nobody
        wanted = kinds[e.action]
        for kind, recipients, text in wanted if isinstance(wanted, list) else [wanted]:
            for uid in recipients - {e.actor_id}:
                out[(s.pk, uid, kind, text)] += 1
    return out


def check(calls: list[Call], smtp: Any) -> tuple[list[str], dict[str, Any]]:
    from coaching.models import SessionEvent
    from notifications.models import EmailStatus, Notification

    problems: list[str] = []
    statuses = Counter(str(c.status) for c in calls)
    for c in calls:
        if c.status == "dropped":
            continue
        if int(c.status) >= 500:
            problems.append(f"5xx: {c}")
        elif c.status not in ALLOWED[c.action]:
            problems.append(f"unexpected {c.status} for {c.action}: {c}")

    # Every accepted change is in the audit trail once; a dropped one at most once.
    events = Counter(SessionEvent.objects.values_list("session_id", "action"))
    accepted: Counter[tuple[int, str]] = Counter()
    dropped: Counter[tuple[int, str]] = Counter()
    for c in calls:
        if c.action in ACCEPTED_EVENT and c.session is not None:
            key = (c.session, ACCEPTED_EVENT[c.action])
            if c.status == "dropped":
                dropped[key] += 1
            elif 200 <= int(c.status) < 300:
                accepted[key] += 1
    for key, n in accepted.items():
        got = events[key]
        if key[1] == "edited":
            continue  # an edit that changes nothing records nothing; checked by count below
        if not n <= got <= n + dropped[key]:
            problems.append(
                f"{key}: {n} accepted, {dropped[key]} dropped, {got} in the audit trail"
            )
    suggested = sum(1 for c in calls if c.action == "suggest" and c.status == 201)
    suggest_dropped = sum(1 for c in calls if c.action == "suggest" and c.status == "dropped")
    recorded = sum(n for (_, a), n in events.items() if a == "suggested")
    if not suggested <= recorded <= suggested + suggest_dropped:
        problems.append(f"{suggested} suggestions accepted, {recorded} recorded")
    terminal = Counter(sid for (sid, a), n in events.items() if a in TERMINAL for _ in range(n))
    problems += [f"session {sid}: {n} terminal transitions" for sid, n in terminal.items() if n > 1]

    expected = expected_notifications()
    actual = Counter(
        Notification.objects.values_list("session_id", "recipient_id", "kind", "message")
    )
    if actual != expected:
        problems.append(
            f"notifications differ: missing {list((expected - actual).items())[:5]}, extra {list((actual - expected).items())[:5]}"
        )

    email = Counter(Notification.objects.values_list("email_status", flat=True))
    by_status = dict(Notification.objects.values_list("pk", "email_status"))
    for nid, status in by_status.items():
        sent = smtp.accepted.get(nid, 0)
        if status == EmailStatus.SENT and sent != 1:
            problems.append(f"notification {nid}: sent, but the SMTP server got it {sent} times")
        elif status == EmailStatus.UNCERTAIN and sent > 1:
            problems.append(f"notification {nid}: uncertain, and sent {sent} times")
        elif status not in (EmailStatus.SENT, EmailStatus.UNCERTAIN):
            problems.append(f"notification {nid}: e-mail {status}")
    problems += [f"notification {nid}: {n} e-mails" for nid, n in smtp.accepted.items() if n > 1]

    ms = sorted(c.ms for c in calls if c.status != "dropped")
    figures = {
        "requests": len(calls),
        "statuses": dict(sorted(statuses.items())),
        "by_action": {
            a: dict(sorted(Counter(str(c.status) for c in calls if c.action == a).items()))
            for a in ALLOWED
        },
        "p50_ms": round(ms[len(ms) // 2], 1) if ms else None,
        "p99_ms": round(ms[int(len(ms) * 0.99)], 1) if ms else None,
        "sessions": recorded,
        "terminal_transitions": sum(terminal.values()),
        "notifications_checked": sum(actual.values()),
        "emails": dict(sorted(email.items())),
        "smtp_accepted": sum(smtp.accepted.values()),
        "smtp_refused": sum(smtp.refused.values()),
    }
    return problems, figures


def drain(Notification: Any, EmailStatus: Any) -> int:  # noqa: N803
    """Wait until no e-mail is pending. A worker killed between taking a task and claiming its
    notification leaves that task running forever and the e-mail pending: the sweep re-queues
    such e-mails five minutes later. Rather than wait, this does what the sweep would do, once
    the workers have nothing left to do, and returns how many it re-queued (reported)."""
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from notifications.tasks import deliver_email

    requeued = 0
    deadline = time.monotonic() + 300
    last, quiet = -1, 0
    while time.monotonic() < deadline:
        pending = Notification.objects.filter(email_status=EmailStatus.PENDING)
        count = pending.count()
        if not count:
            return requeued
        busy = DBTaskResult.objects.filter(
            task_path="notifications.tasks.deliver_email", status="READY"
        ).exists()
        quiet = quiet + 1 if count == last and not busy else 0
        last = count
        if quiet >= 5:
            for pk in pending.filter(email_next_attempt_at__lte=timezone.now()).values_list(
                "pk", flat=True
            ):
                deliver_email.enqueue(pk)
                requeued += 1
            quiet = 0
        time.sleep(1)
    raise AssertionError(f"{last} e-mails still pending after 300 s")


# --- main ---------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("LOAD_SECONDS", 120)))
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    ci = os.environ.get("CI") == "true"

    if not pg_reachable():
        if ci:
            print(f"FAILED: the load test needs PostgreSQL at {ADMIN_URL} (required when CI=true)")
            return 1
        print(
            f"SKIPPED: the load test with faults: no PostgreSQL at {ADMIN_URL} (set TEST_POSTGRES_URL)"
        )
        return 0

    name = f"coachsuggest_load_proofs_{os.getpid()}"
    db_url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / name
    log_dir.mkdir(parents=True, exist_ok=True)
    admin_sql(f'CREATE DATABASE "{name}"')
    procs: list[subprocess.Popen[bytes]] = []
    try:
        os.environ.update(
            DATABASE_URL=db_url, DJANGO_SETTINGS_MODULE="config.settings", TESTING="1"
        )
        import django

        django.setup()
        from django.core.management import call_command

        from tests.faults.harness import (
            SmtpServer,
            product_env,
            start_web,
            start_worker,
            stop,
        )

        say(f"database {name}: migrating")
        call_command("migrate", verbosity=0)
        personas, coach_group, trainee_group, area = build_org()
        with SmtpServer() as smtp:
            env = product_env(db_url, smtp.port, DB_POOL_MAX="4")
            say("starting gunicorn (2 web workers) and 2 db_worker processes")
            web = start_web(env, workers=2, log=log_dir / "web.log")
            procs.append(web.proc)
            workers = [start_worker(env, log=log_dir / "worker.log") for _ in range(2)]
            load = Workload(web.base, personas, coach_group, trainee_group, area, args.seed)
            faults = Faults(smtp, workers, web, env, log_dir / "worker.log")
            say(f"{len(personas)} users acting on the same suggestions for {args.seconds:.0f}s")
            threads = [
                threading.Thread(target=load.run_persona, args=(p, i))
                for i, p in enumerate(personas)
            ]
            fault_thread = threading.Thread(target=faults.run, args=(args.seconds, load.stop))
            started = time.monotonic()
            for t in [*threads, fault_thread]:
                t.start()
            while time.monotonic() - started < args.seconds:
                time.sleep(1)
            load.stop.set()
            for t in [*threads, fault_thread]:
                t.join(timeout=120)
            elapsed = time.monotonic() - started
            say(f"{len(load.calls)} requests in {elapsed:.0f}s; waiting for the e-mail to go out")

            from notifications.delivery import sweep_email
            from notifications.models import EmailStatus, Notification

            requeued = drain(Notification, EmailStatus)
            for w in faults.workers:
                stop(w)
            # The message whose worker died at the server stays "sending": once its claim is stale
            # (as it is now for the sweep's clock) the sweep marks it uncertain, never resends it.
            from django.conf import settings
            from django.utils import timezone

            later = timezone.now() + timedelta(seconds=settings.EMAIL_CLAIM_TIMEOUT_SECONDS + 1)
            marked = sweep_email(now=later)
            problems, figures = check(load.calls, smtp)
        stop(web.proc)
        figures.update(
            seconds=round(elapsed, 1),
            throughput_rps=round(len(load.calls) / elapsed, 1),
            users=len(personas),
            web_workers=2,
            db_workers=2,
            faults=faults.done,
            marked_uncertain_by_sweep=marked["uncertain"],
            requeued_as_the_sweep_would=requeued,
            seed=args.seed,
            date=datetime.now(UTC).strftime("%Y-%m-%d"),
            violations=len(problems),
        )
        print(json.dumps(figures, indent=2))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
        for p in problems[:50]:
            print(f"VIOLATION: {p}")
        if problems:
            say(f"load with faults FAILED: {len(problems)} violation(s); logs in {log_dir}")
            return 1
        say(
            f"load with faults passed: {figures['requests']} requests, no 5xx, "
            f"{figures['notifications_checked']} notifications checked: "
            f"{figures['smtp_accepted']} e-mails accepted by the SMTP server, none twice; "
            f"{figures['emails'].get('uncertain', 0)} marked uncertain (its worker killed at the "
            "server) and not resent"
        )
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        from django.db import connections

        connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
