"""Real processes and servers for the fault tests (and `scripts/load_faults.py`): an SMTP server
(aiosmtpd) that can refuse or hold messages, the worker (`manage.py db_worker`) and the web server
(gunicorn) as subprocesses, a TCP proxy in front of PostgreSQL that can cut the database off in
the middle of a request, and a small HTTP client.

Nothing here fakes our code: the product runs as it does in production, only its surroundings
misbehave on cue.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.05
) -> Any:
    """Poll until `predicate()` is truthy. The timeout only stops a hung run; no test asserts on
    how long anything took."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f}s")
        time.sleep(every)


def notification_id(raw: bytes) -> int:
    """The notification an e-mail belongs to, from its stable Message-ID."""
    msg_id = message_from_bytes(raw)["Message-ID"] or ""
    return int(msg_id.split("notification-")[1].split("@")[0].split(".")[0])


# --- SMTP ------------------------------------------------------------------------------------------
class SmtpServer:
    """An SMTP server on 127.0.0.1 that counts, per notification, the messages it accepted and
    refused. `refuse(n)`: the next n messages get `451 4.3.0` (a temporary refusal, as a server
    under load or greylisting answers). `hold(k)`: the k-th message from now waits at the end of
    DATA until `release()`, so the sender can be killed meanwhile; it is then accepted (the worst
    case: the server has it, the sender never learned)."""

    def __init__(self) -> None:
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per SMTP command
        self.port = free_port()
        self.accepted: Counter[int] = Counter()
        self.refused: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._refuse = 0
        self._hold_countdown = 0
        self.holding = threading.Event()
        self._release = threading.Event()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._controller.stop()

    def refuse(self, n: int) -> None:
        with self._lock:
            self._refuse = n

    def hold(self, k: int) -> None:
        with self._lock:
            self._hold_countdown = k
            self.holding.clear()
            self._release.clear()

    def release(self) -> None:
        self._release.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        nid = notification_id(envelope.original_content or envelope.content)
        with self._lock:
            if self._refuse > 0:
                self._refuse -= 1
                self.refused[nid] += 1
                return "451 4.3.0 Mailbox busy, try again later"
            held = False
            if self._hold_countdown > 0:
                self._hold_countdown -= 1
                held = self._hold_countdown == 0
            # The server has the whole message now: it counts as delivered even if the sender
            # dies before the reply (a held message's sender is killed meanwhile).
            self.accepted[nid] += 1
        if held:
            self.holding.set()
            while not self._release.is_set():
                await asyncio.sleep(0.02)
        return "250 2.0.0 Accepted"

    @property
    def total_accepted(self) -> int:
        with self._lock:
            return sum(self.accepted.values())


# --- the product's processes ----------------------------------------------------------------------
def product_env(database_url: str, smtp_port: int | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        TESTING="1",
        DATABASE_URL=database_url,
        LOG_LEVEL="WARNING",
        PGSSLMODE="disable",  # the proxy reads the protocol in clear
        EMAIL_RETRY_BASE_SECONDS="1",
        EMAIL_BATCH_RESCUE_SECONDS="5",
    )
    env.pop("EMAIL_BACKEND", None)
    if smtp_port is not None:
        env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port), EMAIL_TIMEOUT="20")
    env.update(extra)
    return env


def start_worker(
    env: dict[str, str], *, batch: bool = False, log: Path | None = None
) -> subprocess.Popen[bytes]:
    args = [PYTHON, "manage.py", "db_worker", "--queue-name", "*", "--no-startup-delay"]
    args += ["--no-reload", "--interval", "0.2"]
    if batch:
        args.append("--batch")
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


@dataclass
class Web:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """The pids of gunicorn's worker processes (children of the master)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []


def start_web(env: dict[str, str], *, workers: int = 1, log: Path | None = None) -> Web:
    port = free_port()
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env={**env, "ALLOWED_HOSTS": "127.0.0.1"},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    web = Web(proc, port)
    wait_for(lambda: _answers(web), timeout=60, what="gunicorn to answer")
    wait_for(lambda: len(web.workers()) == workers, timeout=60, what="gunicorn's workers")
    return web


def _answers(web: Web) -> bool:
    if web.proc.poll() is not None:
        raise AssertionError(f"gunicorn exited with {web.proc.returncode}")
    try:
        return request(web.base, "GET", "/login/").status == 200
    except OSError:
        return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


# --- HTTP ---------------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    form: str | None = None,
    timeout: float = 60,
) -> Answer:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    hdrs = dict(headers or {})
    data: bytes | None = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if form is not None:
        data = form.encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        cookies = {}
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            cookies[name.strip()] = rest.split(";")[0]
        return Answer(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
            cookies,
        )
    finally:
        conn.close()


# --- a TCP proxy that cuts the database off on cue --------------------------------------------------
class DatabaseProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL. `cut_on(pattern)`: when a client next sends bytes
    containing `pattern` (e.g. the text of an INSERT), they are NOT forwarded: every connection is
    dropped and new ones are refused until `restore()`. The server sees its clients vanish in the
    middle of their transactions and rolls them back, as it does when a network link or a
    connection pooler dies."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._pattern: bytes | None = None
        self._pause_pattern: bytes | None = None
        self.paused = threading.Event()
        self._down = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self.cuts = 0
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DatabaseProxy:
        self._listen()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._cut()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop.is_set() and not self._down.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        try:
            while not self._down.is_set():
                ready, _, _ = select.select(list(peers), [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and self._pattern and self._pattern in data:
                        self._cut()
                        return
                    if sock is client and self._pause_pattern and self._pause_pattern in data:
                        self._pause_pattern = None
                        self._hold_until_client_leaves(client)
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, server):
                _close(sock)

    def cut_on(self, pattern: bytes) -> None:
        self._pattern = pattern

    def pause_on(self, pattern: bytes) -> None:
        """The next client to send `pattern` is held there (its bytes not forwarded) until it
        goes away; its connection to the server is then closed. The server is left waiting in
        the middle of that client's transaction meanwhile."""
        self.paused.clear()
        self._pause_pattern = pattern

    def _hold_until_client_leaves(self, client: socket.socket) -> None:
        self.paused.set()
        while not self._stop.is_set():
            ready, _, _ = select.select([client], [], [], 0.2)
            if ready and not client.recv(65536):
                return

    def cut_now(self) -> None:
        self._cut()

    def _cut(self) -> None:
        with self._lock:
            if self._down.is_set() and not self._conns and self._listener is None:
                return
            self._down.set()
            self._pattern = None
            self.cuts += 1
            for sock in self._conns:
                _close(sock)
            self._conns = []
            if self._listener is not None:
                _close(self._listener)
                self._listener = None

    def restore(self) -> None:
        with self._lock:
            self._down.clear()
        self._listen()


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def running(*procs: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            stop(proc)
