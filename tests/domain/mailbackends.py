"""E-mail backends for the delivery tests: one that fails a given number of times, one that
always fails, and one that writes each message to a file and may SIGKILL its own process right
after (to prove a message is never sent twice when a worker dies mid-send)."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class Flaky(BaseEmailBackend):
    """Raises on the first `failures` sends (counted across instances), then delivers into
    `sent`. Tests reset both through `Flaky.reset(n)`."""

    failures = 0
    sent: list = []
    lock = threading.Lock()  # the lanes of one batch send from several threads

    @classmethod
    def reset(cls, failures: int) -> None:
        cls.failures = failures
        cls.sent = []

    def send_messages(self, email_messages):
        with Flaky.lock:
            if Flaky.failures > 0:
                Flaky.failures -= 1
                raise ConnectionRefusedError("mail server said no")
            Flaky.sent.extend(email_messages)
        return len(email_messages)


class AlwaysFails(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise TimeoutError("mail server unreachable")


class FileThenKill(BaseEmailBackend):
    """Writes each message to $DOMAIN_MAIL_DIR/<uuid>.eml; with $DOMAIN_MAIL_KILL=1 the process
    then kills itself with SIGKILL before the caller can record the message as sent."""

    def send_messages(self, email_messages):
        folder = Path(os.environ["DOMAIN_MAIL_DIR"])
        for message in email_messages:
            path = folder / f"{uuid.uuid4().hex}.eml"
            path.write_bytes(message.message().as_bytes())
            if os.environ.get("DOMAIN_MAIL_KILL") == "1":
                os.kill(os.getpid(), signal.SIGKILL)
        return len(email_messages)
