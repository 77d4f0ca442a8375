"""Reminders exactly once with real workers: two `db_worker` processes and a sweep run at the same
time on the test database after the reminders' moment passed while no worker was up; then a
worker killed inside a reminder's transaction, and a restart. SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from coaching import services
from coaching.models import CoachingSession, Reminder, ReminderKind, ReminderStatus
from coaching.tasks import send_reminder
from notifications.models import Kind, Notification

from .helpers import ref, suggest
from .test_email_crash import ROOT, _env, kill_while_blocked, sent_ids, start_worker, worker

pytestmark = pytest.mark.django_db(transaction=True)
SESSIONS = 8


def _schedule_long_ago(org, count: int) -> list[CoachingSession]:
    """Sessions starting in an hour, scheduled 25 hours ago: their reminders (24 hours before)
    came due 23 hours ago, while no worker ran."""
    start = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    out = []
    with time_machine.travel(timezone.now() - timedelta(hours=25), tick=False):
        for i in range(count):
            s = suggest(org, title=f"Session {i}", trainees=[ref(org.tier1)])
            out.append(
                services.session_schedule(
                    actor=org.cora,
                    session_id=s.pk,
                    starts_at=start + timedelta(minutes=i),
                    duration_minutes=30,
                    allow_conflicts=True,
                )
            )
    return out


def _sweep(mail_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "sweep"],
        cwd=ROOT,
        env=_env(mail_dir, kill=False),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _reminder_notifications() -> Counter[tuple[int, str]]:
    return Counter(
        Notification.objects.filter(kind=Kind.SESSION_REMINDER).values_list(
            "session_id", "recipient__username"
        )
    )


def test_two_workers_and_a_sweep_send_each_late_reminder_once(org, tmp_path):
    sessions = _schedule_long_ago(org, SESSIONS)
    ids = list(
        Reminder.objects.filter(kind=ReminderKind.SESSION_START).values_list("pk", flat=True)
    )
    assert len(ids) == SESSIONS
    with transaction.atomic():
        for pk in ids:  # a second task per reminder, so both workers contend for each
            send_reminder.enqueue(pk)
    procs = [start_worker(tmp_path), start_worker(tmp_path), _sweep(tmp_path)]
    for proc in procs:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, out.decode()
    assert worker(tmp_path) == 0  # whatever e-mail the sweep's notifications still wait for
    expected = Counter(
        {(s.pk, u): 1 for s in sessions for u in ("alice.agent", "bob.agent", "cora.coach")}
    )
    assert _reminder_notifications() == expected
    assert set(
        Reminder.objects.filter(kind=ReminderKind.SESSION_START).values_list("status", flat=True)
    ) == {ReminderStatus.SENT}
    reminder_mails = set(
        Notification.objects.filter(kind=Kind.SESSION_REMINDER).values_list("pk", flat=True)
    )
    mails = sent_ids(tmp_path)
    assert {pk: mails[pk] for pk in reminder_mails} == dict.fromkeys(reminder_mails, 1)
    # A restart and another sweep change nothing.
    assert worker(tmp_path) == 0
    sweep = _sweep(tmp_path)
    sweep.communicate(timeout=120)
    assert _reminder_notifications() == expected


def test_a_worker_killed_inside_the_reminder_sends_nothing_and_it_goes_out_once_later(
    org, tmp_path
):
    (session,) = _schedule_long_ago(org, 1)
    reminder = Reminder.objects.get(session=session, kind=ReminderKind.SESSION_START)
    # The reminder's task is the oldest due one, so the worker takes it first.
    # Hold the session row (on SQLite: the database) so the worker stops inside the reminder's
    # transaction; kill it there.
    returncode = kill_while_blocked(
        tmp_path,
        lambda: (
            CoachingSession.objects.select_for_update()
            .filter(pk=session.pk)
            .update(location="Room 5")
        ),
    )
    assert returncode == -signal.SIGKILL
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.PENDING
    assert _reminder_notifications() == Counter()
    # Restart: the worker (a task it had not taken) or the sweep (a task the dead worker held)
    # sends it; whichever comes second finds it sent.
    assert worker(tmp_path) == 0
    sweep = _sweep(tmp_path)
    sweep.communicate(timeout=120)
    assert worker(tmp_path) == 0
    assert _reminder_notifications() == Counter(
        {(session.pk, u): 1 for u in ("alice.agent", "bob.agent", "cora.coach")}
    )
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.SENT
