"""Races the database decides, on PostgreSQL: the e-mail claim locks only its own row (so it
cannot deadlock with a state change that writes notifications), a transaction that loses a
deadlock runs again instead of failing, and the sweep loop outlives a failed pass."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from coaching import services
from coaching.models import CoachingSession, State
from core.db import retry_on_conflict
from directory.models import User
from notifications import delivery
from notifications.models import EmailStatus, Notification

from .helpers import fields, suggest

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def other_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"],
        user=s["USER"],
        host=s["HOST"],
        port=s["PORT"] or 5432,
        password=s["PASSWORD"],
    )


def can_lock(sql: str, pk: int) -> bool:
    """Whether another transaction could take this lock now (NOWAIT: no waiting, no timing)."""
    with other_connection() as conn:
        try:
            conn.execute(sql + " NOWAIT", [pk])
        except psycopg.errors.LockNotAvailable:
            return False
        return True


def test_the_email_claim_locks_the_notification_row_only(org):
    session = suggest(org)
    n = Notification.objects.get(session=session, recipient=org.cora)
    with transaction.atomic():
        assert delivery._claim(n, timezone.now(), None)
        assert Notification.objects.get(pk=n.pk).email_status == EmailStatus.SENDING
        # What a decline of this session, committing notifications and events that name these
        # users, needs at the same moment:
        assert can_lock(
            "SELECT 1 FROM coaching_coachingsession WHERE id = %s FOR UPDATE", session.pk
        )
        assert can_lock("SELECT 1 FROM directory_user WHERE id = %s FOR KEY SHARE", org.cora.pk)
        assert not can_lock(
            "SELECT 1 FROM notifications_notification WHERE id = %s FOR UPDATE", n.pk
        )


def test_a_transaction_that_loses_a_deadlock_runs_again(org):
    first, second = org.sam.pk, org.cora.pk
    barrier = threading.Barrier(2)
    calls: list[str] = []
    results: dict[str, object] = {}

    def locker(name: str, a: int, b: int) -> None:
        @retry_on_conflict
        def work() -> str:
            calls.append(name)
            with transaction.atomic():
                User.objects.select_for_update().get(pk=a)
                if calls.count(name) == 1:
                    barrier.wait(timeout=30)  # both hold their first row: the cycle is certain
                User.objects.select_for_update().get(pk=b)
            return "done"

        try:
            results[name] = work()
        except Exception as exc:  # noqa: BLE001 - asserted below
            results[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=locker, args=("one", first, second)),
        threading.Thread(target=locker, args=("two", second, first)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == {"one": "done", "two": "done"}
    assert len(calls) == 3  # PostgreSQL aborted one of the two once; it ran again


def _drop_pooled_connections() -> None:
    """The pool hands a connection back out with its session settings: the sweep closes (returns)
    its connection after a failed pass, so a later test drawing that one would give up on every
    lock after 200 ms. Closing the pool discards them all."""
    connection.close()
    connection.close_pool()  # type: ignore[attr-defined]  # (the PostgreSQL wrapper has it)


def test_sweep_loop_survives_a_failed_pass(org, caplog):
    past = timezone.now() - timedelta(days=2)
    due = services.session_suggest(
        actor=org.sam, fields=fields(org, expires_at=past + timedelta(days=1)), now=past
    )
    holder = other_connection()
    holder.execute("LOCK TABLE coaching_coachingsession IN ACCESS EXCLUSIVE MODE")

    class ReleaseOnFailure(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "failed" in record.getMessage():
                holder.commit()  # the database is back before the next pass

    handler = ReleaseOnFailure()
    logging.getLogger("coaching.sweep").addHandler(handler)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    try:
        call_command("sweep", every=1, passes=2)
    finally:
        logging.getLogger("coaching.sweep").removeHandler(handler)
        holder.close()
        _drop_pooled_connections()
    assert any("pass 1 failed" in r.getMessage() for r in caplog.records)
    due.refresh_from_db()
    assert due.state == State.CANCELED and due.cancel_reason == "expired"
    assert CoachingSession.objects.filter(state=State.SUGGESTED, pk=due.pk).count() == 0


def test_sweep_once_still_fails_loudly_for_cron(org):
    holder = other_connection()
    holder.execute("LOCK TABLE coaching_coachingsession IN ACCESS EXCLUSIVE MODE")
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    try:
        with pytest.raises(Exception, match="lock timeout"):
            call_command("sweep")
    finally:
        holder.close()
        _drop_pooled_connections()
