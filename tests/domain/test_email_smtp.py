"""E-mail over a real SMTP server (aiosmtpd on a free local port): the e-mails of one change go
out over one connection, each exactly once, and a rerun sends nothing again."""

from __future__ import annotations

import socket
from collections import Counter
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings

from core.testing import drain_tasks
from notifications.models import EmailStatus, Notification

from .helpers import ref, suggest, user_group

pytestmark = pytest.mark.django_db(transaction=True)


class Inbox:
    def __init__(self) -> None:
        self.message_ids: Counter[str] = Counter()
        self.connections = 0

    async def handle_DATA(self, server, session, envelope):
        self.message_ids[message_from_bytes(envelope.original_content)["Message-ID"]] += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = _free_port()

    class Counting(Controller):
        def factory(self):
            inbox.connections += 1
            return super().factory()

    controller = Counting(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailers = {
        "default": {
            "BACKEND": "notifications.notice_mail.EmailBackend",  # as settings.py sets it
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
        }
    }
    with override_settings(MAILERS=mailers):
        yield inbox
    controller.stop()


def test_a_coach_group_of_30_gets_its_mail_over_one_connection_once(org, smtp):
    group = user_group("coach", 30)
    smtp.connections = 0  # the controller's own readiness check connected once
    suggest(org, coach=ref(group))
    assert drain_tasks() >= 1
    assert sum(smtp.message_ids.values()) == 30
    assert set(smtp.message_ids.values()) == {1}
    assert smtp.connections == 1
    assert set(Notification.objects.values_list("email_status", flat=True)) == {EmailStatus.SENT}
    drain_tasks()
    assert sum(smtp.message_ids.values()) == 30


def _backends() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


@pytest.mark.postgres_only
@override_settings(EMAIL_CONNECTIONS=4, EMAIL_CONNECTIONS_MIN_BATCH=25)
def test_a_large_batch_goes_out_over_several_connections_each_message_once(org, smtp):
    group = user_group("coach", 130)
    smtp.connections = 0
    suggest(org, coach=ref(group))
    assert drain_tasks() >= 1
    assert sum(smtp.message_ids.values()) == 130
    assert set(smtp.message_ids.values()) == {1}
    assert smtp.connections == 4  # 130 // 25 = 5 lanes, at most EMAIL_CONNECTIONS
    assert set(Notification.objects.values_list("email_status", "email_attempts")) == {
        (EmailStatus.SENT, 1)
    }
    # The lanes' threads gave their database connections back: the next batch's lanes take
    # the same ones from the pool.
    after_one = _backends()
    assert after_one <= 1 + 4
    suggest(org, coach=ref(group), title="Second")
    drain_tasks()
    assert sum(smtp.message_ids.values()) == 260
    assert set(smtp.message_ids.values()) == {1}
    assert _backends() == after_one
    drain_tasks()  # the batches' rescue tasks find nothing left to send
    assert sum(smtp.message_ids.values()) == 260


@pytest.mark.postgres_only
@override_settings(
    EMAIL_CONNECTIONS=3,
    EMAIL_CONNECTIONS_MIN_BATCH=10,
    MAILERS={"default": {"BACKEND": "tests.domain.mailbackends.Flaky"}},
)
def test_a_failure_in_one_lane_retries_that_message_alone(org):
    from tests.domain.mailbackends import Flaky

    Flaky.reset(1)
    group = user_group("coach", 40)
    suggest(org, coach=ref(group))
    drain_tasks()
    assert len(Flaky.sent) == 39
    statuses = list(Notification.objects.values_list("email_status", "email_attempts"))
    assert sorted(statuses).count((EmailStatus.SENT, 1)) == 39
    assert (EmailStatus.PENDING, 1) in statuses
    retry = Notification.objects.get(email_status=EmailStatus.PENDING)
    assert retry.email_next_attempt_at is not None
    assert "mail server said no" in retry.email_last_error


def test_one_connection_on_sqlite_or_inside_a_transaction():
    from django.db import connection, transaction

    from notifications.delivery import lanes_for

    with override_settings(EMAIL_CONNECTIONS=4, EMAIL_CONNECTIONS_MIN_BATCH=25):
        expected = (
            {0: 1, 24: 1, 49: 1, 50: 2, 99: 3, 100: 4, 1000: 4}
            if connection.vendor == "postgresql"
            else dict.fromkeys([0, 24, 50, 100, 1000], 1)
        )
        assert {n: lanes_for(n) for n in expected} == expected
        with transaction.atomic():
            assert lanes_for(1000) == 1
