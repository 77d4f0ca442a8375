"""E-mail of notifications: one per notification, per preference, retried with back-off, given
up after EMAIL_MAX_ATTEMPTS, never twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from notifications.delivery import deliver, sweep_email
from notifications.models import EmailStatus, Notification

from .helpers import ref, suggest
from .mailbackends import Flaky

FLAKY = {"default": {"BACKEND": "tests.domain.mailbackends.Flaky"}}
ALWAYS_FAILS = {"default": {"BACKEND": "tests.domain.mailbackends.AlwaysFails"}}


def status(n: Notification) -> tuple[str, int]:
    n.refresh_from_db()
    return n.email_status, n.email_attempts


def test_one_email_per_notification(org, run_worker, mailoutbox):
    s = suggest(org, coach=ref(org.coaching_team))
    run_worker()
    assert sorted(m.to[0] for m in mailoutbox) == [
        "carl.coach@demo.example",
        "cora.coach@demo.example",
    ]
    m = mailoutbox[0]
    assert m.subject == f"Sam Supervisor suggested a coaching session. - {s.title}"
    assert "Sam Supervisor suggested a coaching session." in m.body
    assert f"/sessions/{s.pk}/" in m.body and s.title in m.body
    assert len({m.extra_headers["Message-ID"] for m in mailoutbox}) == 2
    assert set(Notification.objects.values_list("email_status", "email_attempts")) == {
        (EmailStatus.SENT, 1)
    }
    run_worker()
    assert len(mailoutbox) == 2
    for n in Notification.objects.all():
        assert deliver(n.pk) == EmailStatus.SENT
    assert len(mailoutbox) == 2


def test_preference_off_or_no_address_skips(org, run_worker, mailoutbox):
    org.carl.email_notifications = False
    org.carl.save()
    org.cora.email = ""
    org.cora.save()
    suggest(org, coach=ref(org.coaching_team))
    run_worker()
    assert mailoutbox == []
    assert set(Notification.objects.values_list("email_status", "email_attempts")) == {
        (EmailStatus.SKIPPED, 0)
    }
    # The in-app notifications are there all the same.
    assert Notification.objects.count() == 2


def test_deactivated_recipient_skipped(org, run_worker, mailoutbox):
    suggest(org)
    org.cora.is_active = False
    org.cora.save()
    run_worker()
    assert mailoutbox == []
    assert Notification.objects.get().email_status == EmailStatus.SKIPPED


@override_settings(MAILERS=FLAKY, EMAIL_RETRY_BASE_SECONDS=30)
def test_failed_send_is_retried_with_backoff_and_sent_once(org, run_worker):
    Flaky.reset(failures=2)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as t:
        suggest(org)
        n = Notification.objects.get()
        run_worker()
        assert status(n) == (EmailStatus.PENDING, 1)
        assert n.email_next_attempt_at == start + timedelta(seconds=30)
        assert "ConnectionRefusedError" in n.email_last_error
        t.move_to(start + timedelta(seconds=29))
        run_worker()
        assert status(n) == (EmailStatus.PENDING, 1)  # not before its time
        assert deliver(n.pk) == EmailStatus.PENDING  # an early duplicate task does nothing
        assert status(n) == (EmailStatus.PENDING, 1)
        t.move_to(start + timedelta(seconds=30))
        run_worker()
        assert status(n) == (EmailStatus.PENDING, 2)
        assert n.email_next_attempt_at == start + timedelta(seconds=90)  # 30 s, then 60 s
        t.move_to(start + timedelta(seconds=90))
        run_worker()
        assert status(n) == (EmailStatus.SENT, 3)
        assert n.email_last_error == ""
        assert [m.to for m in Flaky.sent] == [["cora.coach@demo.example"]]
        t.move_to(start + timedelta(hours=1))
        run_worker()
        sweep_email()
        run_worker()
    assert len(Flaky.sent) == 1


@override_settings(MAILERS=ALWAYS_FAILS, EMAIL_MAX_ATTEMPTS=3, EMAIL_RETRY_BASE_SECONDS=10)
def test_gives_up_after_max_attempts(org, run_worker):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as t:
        suggest(org)
        n = Notification.objects.get()
        for attempt, wait in [(1, 10), (2, 20)]:
            run_worker()
            assert status(n) == (EmailStatus.PENDING, attempt)
            t.shift(timedelta(seconds=wait))
        run_worker()
        assert status(n) == (EmailStatus.FAILED, 3)
        assert "TimeoutError" in n.email_last_error
        t.shift(timedelta(days=1))
        assert run_worker() == 0
        assert sweep_email() == {"uncertain": 0, "requeued": 0}
        assert status(n) == (EmailStatus.FAILED, 3)


def test_sweep_requeues_lost_pending_and_marks_stale_claims(org, run_worker, mailoutbox):
    from django_tasks_db.models import DBTaskResult

    start = timezone.now()
    with time_machine.travel(start, tick=False) as t:
        suggest(org, coach=ref(org.coaching_team))
        lost, stuck = Notification.objects.order_by("pk")
        DBTaskResult.objects.all().delete()  # the tasks were lost
        Notification.objects.filter(pk=stuck.pk).update(
            email_status=EmailStatus.SENDING, email_claimed_at=start, email_attempts=1
        )
        t.move_to(start + timedelta(minutes=4))
        assert sweep_email() == {"uncertain": 0, "requeued": 0}
        t.move_to(start + timedelta(minutes=11))
        assert sweep_email() == {"uncertain": 1, "requeued": 1}
        run_worker()
        assert status(lost) == (EmailStatus.SENT, 1)
        assert status(stuck) == (EmailStatus.UNCERTAIN, 1)
        assert [m.to[0] for m in mailoutbox] == [lost.recipient.email]


@pytest.mark.parametrize("final", [EmailStatus.SENT, EmailStatus.UNCERTAIN, EmailStatus.FAILED])
def test_deliver_never_resends_a_settled_row(org, mailoutbox, final):
    suggest(org)
    n = Notification.objects.get()
    Notification.objects.filter(pk=n.pk).update(email_status=final)
    assert deliver(n.pk) == final
    assert mailoutbox == []


def test_claim_takes_a_due_row_and_records_the_previous_one_as_sent(org):
    """The claim statement: pending and due -> sending (attempts + 1, claimed now); with the
    batch's previous message, that one sending -> sent in the same statement; nothing else."""
    from notifications.delivery import _claim

    suggest(org, coach=ref(org.coaching_team))
    first, second = Notification.objects.order_by("pk")
    now = timezone.now()
    assert _claim(first, now, None) is True
    first.refresh_from_db()
    assert (first.email_status, first.email_attempts) == (EmailStatus.SENDING, 1)
    assert first.email_claimed_at == now and first.email_sent_at is None
    # Claimed already (by this worker or another): not again.
    assert _claim(first, now, None) is False
    assert status(first) == (EmailStatus.SENDING, 1)

    Notification.objects.filter(pk=first.pk).update(email_last_error="earlier failure")
    assert _claim(second, now, first.pk) is True
    first.refresh_from_db()
    assert (first.email_status, first.email_attempts) == (EmailStatus.SENT, 1)
    assert first.email_sent_at is not None and first.email_last_error == ""
    assert first.email_claimed_at == now
    assert status(second) == (EmailStatus.SENDING, 1)

    # The next message not due yet (its retry is later): the previous one is still recorded.
    Notification.objects.filter(pk=first.pk).update(email_status=EmailStatus.SENDING)
    Notification.objects.filter(pk=second.pk).update(
        email_status=EmailStatus.PENDING, email_next_attempt_at=now + timedelta(minutes=5)
    )
    assert _claim(second, now, first.pk) is False
    assert status(first) == (EmailStatus.SENT, 1)
    assert status(second) == (EmailStatus.PENDING, 1)
    assert _claim(second, now + timedelta(minutes=5), None) is True
    assert status(second) == (EmailStatus.SENDING, 2)
