"""A worker killed mid-delivery never leads to a second e-mail: the real `db_worker` runs as a
subprocess on the test database and is SIGKILLed, then the worker and the sweep run again."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from core.testing import drain_tasks
from notifications.models import EmailStatus, Notification
from notifications.tasks import deliver_emails

from .helpers import ref, suggest

ROOT = Path(settings.BASE_DIR)
pytestmark = pytest.mark.django_db(transaction=True)
FILE_MAILER = {"default": {"BACKEND": "tests.domain.mailbackends.FileThenKill"}}


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return "sqlite:///" + os.path.abspath(s["NAME"])
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _env(mail_dir: Path, kill: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        TESTING="1",
        DATABASE_URL=_database_url(),
        EMAIL_BACKEND="tests.domain.mailbackends.FileThenKill",
        DOMAIN_MAIL_DIR=str(mail_dir),
        DOMAIN_MAIL_KILL="1" if kill else "0",
        LOG_LEVEL="WARNING",
    )
    return env


def start_worker(mail_dir: Path, *, kill: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--batch",
            "--queue-name",
            "*",
            "--no-startup-delay",
            "--no-reload",
        ],
        cwd=ROOT,
        env=_env(mail_dir, kill),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def worker(mail_dir: Path, *, kill: bool = False) -> int:
    proc = start_worker(mail_dir, kill=kill)
    out, _ = proc.communicate(timeout=90)
    if proc.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"worker failed ({proc.returncode}):\n{out.decode()}")
    return proc.returncode


def sent_ids(mail_dir: Path) -> Counter[int]:
    """How many messages went out per notification (read from the stable Message-ID)."""
    ids: Counter[int] = Counter()
    for path in mail_dir.glob("*.eml"):
        msg_id = message_from_bytes(path.read_bytes())["Message-ID"]
        ids[int(msg_id.split("notification-")[1].split("@")[0].split(".")[0])] += 1
    return ids


def sweep_at(moment) -> None:
    with time_machine.travel(moment, tick=False):
        call_command("sweep", stdout=io.StringIO())


def test_worker_killed_after_sending_never_resends(org, tmp_path):
    suggest(org, coach=ref(org.coaching_team))
    ids = sorted(Notification.objects.values_list("pk", flat=True))
    assert len(ids) == 2
    # One task carries both e-mails. Each run sends one message and dies before recording it;
    # the other stays pending, for a new task (the sweep queues one five minutes later).
    assert worker(tmp_path, kill=True) == -signal.SIGKILL
    assert sent_ids(tmp_path) == Counter({ids[0]: 1})
    assert Notification.objects.get(pk=ids[1]).email_status == EmailStatus.PENDING
    deliver_emails.enqueue(ids)
    assert worker(tmp_path, kill=True) == -signal.SIGKILL
    assert sent_ids(tmp_path) == Counter({ids[0]: 1, ids[1]: 1})
    assert set(Notification.objects.values_list("email_status", flat=True)) == {EmailStatus.SENDING}
    # Once the claims are stale, the sweep marks them uncertain; a rerun resends nothing.
    sweep_at(timezone.now() + timedelta(seconds=settings.EMAIL_CLAIM_TIMEOUT_SECONDS + 60))
    assert set(Notification.objects.values_list("email_status", "email_attempts")) == {
        (EmailStatus.UNCERTAIN, 1)
    }
    assert worker(tmp_path) == 0
    assert sent_ids(tmp_path) == Counter({ids[0]: 1, ids[1]: 1})
    assert set(Notification.objects.values_list("email_status", flat=True)) == {
        EmailStatus.UNCERTAIN
    }


def _wait_until_blocked(proc: subprocess.Popen, timeout: float = 30) -> None:
    """PostgreSQL: until the worker waits for our row lock. SQLite: give it time to reach the
    database (it then waits for the write lock we hold)."""
    deadline = time.monotonic() + timeout
    if connection.vendor != "postgresql":
        time.sleep(3)
        return
    with connection.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cur.fetchone()[0]:
                return
            assert proc.poll() is None, "the worker ended instead of waiting"
            time.sleep(0.1)
    pytest.fail("the worker never reached the notification's lock")


def kill_while_blocked(mail_dir: Path, hold: Callable[[], object]) -> int:
    """Start a worker while this test's transaction holds a lock (`hold` takes it), kill it once
    it waits for that lock, and give the lock back. Returns the worker's exit code."""
    with transaction.atomic():
        hold()
        proc = start_worker(mail_dir)
        try:
            _wait_until_blocked(proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
    return proc.returncode


def test_worker_killed_before_claim_commits_sends_once_later(org, tmp_path, monkeypatch):
    suggest(org)
    n = Notification.objects.get()
    # Hold the notification row (on SQLite: the whole database) so the worker stops inside its
    # claim, before the claim commits; then kill it there.
    returncode = kill_while_blocked(
        tmp_path,
        lambda: (
            Notification.objects.select_for_update().filter(pk=n.pk).update(email_last_error="")
        ),
    )
    assert returncode == -signal.SIGKILL
    n.refresh_from_db()
    assert (n.email_status, n.email_attempts) == (EmailStatus.PENDING, 0)
    assert sent_ids(tmp_path) == Counter()
    # Rerun the worker. On SQLite the dead worker had not even taken the task, so this run
    # sends it; on PostgreSQL the task was taken, and only the sweep's new task (five minutes
    # later) brings the still-pending row to a worker.
    assert worker(tmp_path) == 0
    later = timezone.now() + timedelta(minutes=6)
    with (
        time_machine.travel(later, tick=False),
        override_settings(MAILERS=FILE_MAILER),
    ):
        monkeypatch.setenv("DOMAIN_MAIL_DIR", str(tmp_path))
        monkeypatch.setenv("DOMAIN_MAIL_KILL", "0")
        call_command("sweep", stdout=io.StringIO())
        drain_tasks()
    n.refresh_from_db()
    assert (n.email_status, n.email_attempts) == (EmailStatus.SENT, 1)
    assert worker(tmp_path) == 0
    sweep_at(later + timedelta(hours=1))
    assert sent_ids(tmp_path) == Counter({n.pk: 1})
