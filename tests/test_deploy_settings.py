"""The production settings the README documents pass `manage.py check --deploy` without a single
warning, and a request to such a server gets HTTPS enforced (redirect, HSTS)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_production_env(tmp_path: Path) -> dict[str, str]:
    """The variables the README's production section exports, with its `...` placeholders
    filled in the way an operator would."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running on PostgreSQL with several web and worker processes", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    env: dict[str, str] = {}
    for line in block.splitlines():
        if line.startswith("export "):
            for word in shlex.split(line[len("export ") :]):
                name, _, value = word.partition("=")
                env[name] = value
    assert {"SECRET_KEY", "ALLOWED_HOSTS", "SECURE_COOKIES", "DATABASE_URL"} <= set(env)
    filled = {
        k: (secrets.token_urlsafe(50) if k == "SECRET_KEY" else "x")
        for k, v in env.items()
        if v == "..."
    }
    # Nothing of the test run's own environment (TESTING, DJANGO_ALLOW_ASYNC_UNSAFE, ...).
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    base.update(env, **filled, DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    return base


def test_check_deploy_has_no_warnings_with_the_readme_production_settings(tmp_path):
    env = readme_production_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


PROBE = """
import json
import django
django.setup()
from django.test import Client
host = {"HTTP_HOST": "coaching.example.com"}
plain = Client().get("/login/", **host)
# An answer that renders no template: a clean checkout has not collected its static files.
secure = Client().get("/api/v1/me", secure=True, **host)
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "hsts": secure.get("Strict-Transport-Security", ""),
    "cookie_secure": __import__("django.conf").conf.settings.SESSION_COOKIE_SECURE,
}))
"""


def test_production_settings_enforce_https(tmp_path):
    env = readme_production_env(tmp_path)
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'probe.sqlite3'}"  # the page needs no rows
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["plain"] == [301, "https://coaching.example.com/login/"]
    assert re.fullmatch(r"max-age=31536000; includeSubDomains; preload", answer["hsts"])
    assert answer["cookie_secure"] is True
