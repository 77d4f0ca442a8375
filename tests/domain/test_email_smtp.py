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
from directory.models import User, UserGroup, UserGroupMembership
from notifications.models import EmailStatus, Notification

from .helpers import ref, suggest

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
    group = UserGroup.objects.create(name="Thirty coaches")
    users = User.objects.bulk_create(
        [
            User(username=f"c{i}", display_name=f"Coach {i}", email=f"c{i}@x.example")
            for i in range(30)
        ]
    )
    UserGroupMembership.objects.bulk_create(
        [UserGroupMembership(group=group, user=u) for u in users]
    )
    smtp.connections = 0  # the controller's own readiness check connected once
    suggest(org, coach=ref(group))
    assert drain_tasks() >= 1
    assert sum(smtp.message_ids.values()) == 30
    assert set(smtp.message_ids.values()) == {1}
    assert smtp.connections == 1
    assert set(Notification.objects.values_list("email_status", flat=True)) == {EmailStatus.SENT}
    drain_tasks()
    assert sum(smtp.message_ids.values()) == 30
