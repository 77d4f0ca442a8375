"""For the benchmarks that drive a running server: a free port, a JSON call, and waiting for the
server to answer."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(base: str, method: str, path: str, body: object, token: str | None) -> tuple[int, dict]:
    """One API request; (status, JSON body), errors included."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}/api/v1{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, {"raw": raw[:200].decode(errors="replace")}


def wait_for(base: str, tries: int = 300) -> None:
    for _ in range(tries):
        try:
            urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server at {base} did not answer")
