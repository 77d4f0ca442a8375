"""E-mail under faults, with a real SMTP server (aiosmtpd) and the real worker (`manage.py
db_worker`) and web server (gunicorn) as subprocesses: every notification's e-mail is delivered
exactly once, or marked uncertain when a worker died while the server had it; never twice; and
none waits beyond its retry schedule (each is delivered by its own scheduled retry, never left for
the sweep, which does not run here).
"""

from __future__ import annotations

import io
import os
import signal
import threading
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from coaching.models import CoachingSession, State
from directory.models import User
from notifications.models import EmailStatus, Kind, Notification
from tests.domain.helpers import ref, suggest, user_group, world
from tokens.services import token_issue

from .harness import (
    DatabaseProxy,
    SmtpServer,
    Web,
    product_env,
    request,
    running,
    start_web,
    start_worker,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
NOTIFICATION_INSERT = b'INSERT INTO "notifications_notification"'


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return "sqlite:///" + str(s["NAME"])
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _statuses() -> dict[int, str]:
    return dict(Notification.objects.values_list("pk", "email_status"))


def _settled() -> bool:
    return all(s not in (EmailStatus.PENDING, EmailStatus.SENDING) for s in _statuses().values())


def _notifications(org, sessions: int = 3) -> list[int]:
    """`sessions` suggestions to the Coaching Team: two notifications (Cora, Carl) each."""
    for i in range(sessions):
        suggest(org, title=f"Suggestion {i}", coach=ref(org.coaching_team))
    return sorted(Notification.objects.values_list("pk", flat=True))


def test_smtp_refusing_for_a_while_then_accepting(org, tmp_path):
    ids = _notifications(org)
    with SmtpServer() as smtp:
        smtp.refuse(8)  # more refusals than messages: some are refused twice or three times
        env = product_env(_database_url(), smtp.port)
        worker = start_worker(env, log=tmp_path / "worker.log")
        with running(worker):
            wait_for(
                lambda: smtp.total_accepted == len(ids) and _settled(),
                timeout=120,
                what="every e-mail to be delivered",
            )
    assert sum(smtp.refused.values()) == 8
    assert smtp.accepted == {nid: 1 for nid in ids}
    for n in Notification.objects.all():
        # Delivered on the attempt right after its last refusal, by the retry task that attempt
        # scheduled: not early (at or after the time set), and not left to the sweep.
        assert n.email_status == EmailStatus.SENT
        assert n.email_attempts == smtp.refused[n.pk] + 1
        if smtp.refused[n.pk]:
            assert n.email_sent_at >= n.email_next_attempt_at
            assert "451" in n.email_last_error or n.email_last_error == ""
    delivery_tasks = DBTaskResult.objects.filter(task_path="notifications.tasks.deliver_email")
    assert set(delivery_tasks.values_list("status", flat=True)) == {"SUCCESSFUL"}


def _kill_while_held(env: dict[str, str], smtp: SmtpServer, nth: int, tmp_path) -> set[int]:
    """A worker SIGKILLed while the `nth` message it sends is held at the server; the server then
    lets it in. The notifications left `sending` (claimed, their outcome unrecorded)."""
    smtp.hold(nth)
    worker = start_worker(env, log=tmp_path / "worker.log")
    with running(worker):
        wait_for(smtp.holding.is_set, timeout=120, what=f"message {nth} to reach SMTP")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    smtp.release()
    return {nid for nid, s in _statuses().items() if s == EmailStatus.SENDING}


def _restart_sweep_and_rerun(env: dict[str, str], sent: int, tmp_path) -> None:
    """A restarted worker sends the rest (until `sent` are sent); once the interrupted claims are
    stale the sweep marks them uncertain (for a person to look at), and a worker run after that
    sends nothing again: an interrupted send is never retried."""
    restarted = start_worker(env, log=tmp_path / "worker.log")
    with running(restarted):
        wait_for(
            lambda: sum(s == EmailStatus.SENT for s in _statuses().values()) == sent,
            timeout=120,
            what="the other e-mails after the restart",
        )
    later = timezone.now() + timedelta(seconds=settings.EMAIL_CLAIM_TIMEOUT_SECONDS + 60)
    with time_machine.travel(later, tick=False):
        call_command("sweep", stdout=io.StringIO())
    again = start_worker(env, batch=True, log=tmp_path / "worker.log")
    assert again.wait(timeout=120) == 0


def _assert_uncertain_exactly(held: set[int]) -> None:
    statuses = _statuses()
    assert {nid for nid, s in statuses.items() if s == EmailStatus.UNCERTAIN} == held
    assert {s for nid, s in statuses.items() if nid not in held} == {EmailStatus.SENT}


def test_worker_killed_mid_batch_and_restarted(org, tmp_path):
    ids = _notifications(org)
    with SmtpServer() as smtp:
        env = product_env(_database_url(), smtp.port)
        # The third message waits at the server until the worker is dead.
        held = _kill_while_held(env, smtp, 3, tmp_path)
        assert len(held) == 1
        wait_for(lambda: smtp.total_accepted == 3, timeout=30, what="the held message")
        _restart_sweep_and_rerun(env, len(ids) - len(held), tmp_path)
    _assert_uncertain_exactly(held)
    assert smtp.accepted == {nid: 1 for nid in ids}  # the held one too: the server had it


def test_worker_killed_while_a_large_batch_goes_out_over_four_connections(org, tmp_path):
    """One change's 80 e-mails shared among four SMTP connections of one worker: killed while one
    connection's message is held at the server, the worker leaves at most one message per
    connection unrecorded (later uncertain, never resent); the rescue sends the rest, each once."""
    group = user_group("coach", 80)
    suggest(org, coach=ref(group))
    ids = sorted(Notification.objects.values_list("pk", flat=True))
    assert len(ids) == 80
    with SmtpServer() as smtp:
        env = product_env(
            _database_url(), smtp.port, EMAIL_CONNECTIONS="4", EMAIL_CONNECTIONS_MIN_BATCH="20"
        )
        held = _kill_while_held(env, smtp, 10, tmp_path)
        assert 1 <= len(held) <= 4
        _restart_sweep_and_rerun(env, 80 - len(held), tmp_path)
    _assert_uncertain_exactly(held)
    assert all(smtp.accepted[nid] == 1 for nid in ids if nid not in held)
    assert all(smtp.accepted[nid] <= 1 for nid in held)  # never twice, whatever the server had


def _schedule_body() -> dict[str, object]:
    return {"starts_at": (timezone.now() + timedelta(days=2)).isoformat(), "duration_minutes": 30}


def _schedule_in_thread(web: Web, path: str, token: str) -> tuple[threading.Thread, dict]:
    outcome: dict[str, object] = {}
    body = _schedule_body()

    def call() -> None:
        try:
            outcome["answer"] = request(web.base, "POST", path, body, token=token)
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    return thread, outcome


def _kill_the_worker(web: Web, thread: threading.Thread, outcome: dict) -> None:
    (victim,) = web.workers()
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=60)
    assert "error" in outcome, outcome  # the connection dropped: no answer at all
    wait_for(lambda: len(web.workers()) == 1, timeout=60, what="gunicorn's new worker")


def _deliver_and_check(env: dict[str, str], smtp: SmtpServer, org, tmp_path) -> None:
    worker = start_worker(env, batch=True, log=tmp_path / "worker.log")
    assert worker.wait(timeout=120) == 0
    # Scheduling tells the author and invites the trainee: one e-mail each, once.
    written = {
        (n.kind, n.recipient_id): n.pk
        for n in Notification.objects.exclude(email_status=EmailStatus.SKIPPED)
    }
    assert set(written) == {
        (Kind.SESSION_SCHEDULED, org.sam.pk),
        (Kind.SESSION_INVITATION, org.alice.pk),
    }
    assert smtp.accepted == {nid: 1 for nid in written.values()}
    assert CoachingSession.objects.filter(state=State.SCHEDULED, version=2).count() == 1


@pytest.mark.postgres_only
def test_web_worker_killed_mid_transaction(org, tmp_path):
    """gunicorn's worker is SIGKILLed in the middle of the schedule request's transaction: it has
    updated the session and written the audit event, and its notification INSERT is held by a
    proxy in front of PostgreSQL. The connection dies with the worker, PostgreSQL rolls the
    transaction back, the client sees the connection drop; retried, the request goes through
    once, and its one e-mail is delivered once."""
    session = suggest(org)
    Notification.objects.update(email_status=EmailStatus.SKIPPED)  # the suggestion's own
    _, cora = token_issue(user=org.cora, name="faults")
    before = world()
    path = f"/api/v1/coaching-sessions/{session.pk}/schedule"
    port = int(connection.settings_dict["PORT"] or 5432)
    with SmtpServer() as smtp, DatabaseProxy(("127.0.0.1", port)) as proxy:
        s = connection.settings_dict
        env = product_env(f"postgres://{s['USER']}@127.0.0.1:{proxy.port}/{s['NAME']}", smtp.port)
        web = start_web(env, log=tmp_path / "web.log")
        with running(web.proc):
            proxy.pause_on(NOTIFICATION_INSERT)
            thread, outcome = _schedule_in_thread(web, path, cora)
            wait_for(proxy.paused.is_set, timeout=60, what="the request to reach its INSERT")
            _kill_the_worker(web, thread, outcome)
            wait_for(
                lambda: not _open_transactions(), timeout=60, what="the server to roll it back"
            )
            assert world() == before
            answer = request(web.base, "POST", path, _schedule_body(), token=cora)
            assert answer.status == 200, answer.body
        _deliver_and_check(env, smtp, org, tmp_path)


@pytest.mark.postgres_only
def test_web_worker_killed_while_committing(org, tmp_path):
    """Killed later, while PostgreSQL is already committing (the test holds the author's row, whose
    key the notification's deferred foreign key checks at COMMIT): the commit completes without the
    worker. The change is whole (scheduled once, one notification, one e-mail task); the client
    never got an answer, and its retry is told the session is already scheduled (409)."""
    session = suggest(org)
    Notification.objects.update(email_status=EmailStatus.SKIPPED)
    _, cora = token_issue(user=org.cora, name="faults")
    path = f"/api/v1/coaching-sessions/{session.pk}/schedule"
    with SmtpServer() as smtp:
        env = product_env(_database_url(), smtp.port)
        web = start_web(env, log=tmp_path / "web.log")
        with running(web.proc):
            with transaction.atomic():
                User.objects.select_for_update().get(pk=org.sam.pk)
                thread, outcome = _schedule_in_thread(web, path, cora)
                wait_for(_blocked_backend, timeout=60, what="the request to wait at COMMIT")
                _kill_the_worker(web, thread, outcome)
            wait_for(
                lambda: CoachingSession.objects.filter(state=State.SCHEDULED).exists(),
                timeout=60,
                what="the commit",
            )
            answer = request(web.base, "POST", path, _schedule_body(), token=cora)
            assert answer.status == 409, answer.body
            assert answer.json()["code"] == "invalid_state"
        _deliver_and_check(env, smtp, org, tmp_path)
    assert CoachingSession.objects.get(pk=session.pk).events.filter(action="scheduled").count() == 1


def _blocked_backend() -> int | None:
    with connection.cursor() as cur:
        # Inside a transaction PostgreSQL answers from a snapshot of the statistics: refresh it.
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = cur.fetchone()
    return row[0] if row else None


def _open_transactions() -> int:
    """Other connections to this database inside a transaction."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND xact_start IS NOT NULL AND pid <> pg_backend_pid()"
        )
        return int(cur.fetchone()[0])
