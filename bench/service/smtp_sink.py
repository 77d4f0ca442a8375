"""A local SMTP server that accepts every message and counts it, for the e-mail benchmark.

    .venv/bin/python bench/service/smtp_sink.py --port 2525 --stats /tmp/sink.json

Every second it rewrites the stats file: messages received, SMTP connections opened, and the
Message-IDs seen more than once (an e-mail sent twice would show there).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import time
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]*>)", re.IGNORECASE | re.MULTILINE)


class Counter:
    def __init__(self) -> None:
        self.messages = 0
        self.connections = 0
        self.seen: set[str] = set()
        self.duplicates: list[str] = []
        self.first_at: float | None = None
        self.last_at: float | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # The header block only, and the one header: the sink must cost the machine as little as
        # it can, since it shares it with the workers it measures.
        head = (envelope.original_content or b"").split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        message_id = found.group(1).decode("ascii", "replace") if found else ""
        if message_id in self.seen:
            self.duplicates.append(message_id)
        self.seen.add(message_id)
        self.messages += 1
        now = time.time()
        self.first_at = self.first_at or now
        self.last_at = now
        return "250 OK"

    def stats(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "connections": self.connections,
            "duplicates": len(self.duplicates),
            "duplicate_ids": self.duplicates[:20],
            "first_at": self.first_at,
            "last_at": self.last_at,
        }


class CountingSMTP(SMTP):
    def __init__(self, handler: Counter, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.counter = handler

    def connection_made(self, transport: Any) -> None:
        self.counter.connections += 1
        super().connection_made(transport)


class CountingController(Controller):
    def factory(self) -> SMTP:
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--stats", required=True)
    args = p.parse_args()
    counter = Counter()
    controller = CountingController(counter, hostname="127.0.0.1", port=args.port)
    controller.start()
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def write() -> None:
        tmp = args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(counter.stats(), f)
        os.replace(tmp, args.stats)

    write()
    while not stopping:
        time.sleep(0.5)
        write()
    controller.stop()
    write()


if __name__ == "__main__":
    asyncio.set_event_loop(asyncio.new_event_loop())
    main()
