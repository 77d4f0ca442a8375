"""Prepared statements reuse one plan for any value (`core.plans`), text searches excepted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from core.plans import GENERIC

ROOT = Path(__file__).resolve().parents[2]


def mode() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        return str(cursor.fetchone()[0])


@pytest.mark.postgres_only
def test_connections_use_generic_plans_and_searches_custom_ones(org, as_user):
    """The connections plan once for any value; a case search is sent with its term written in
    (never prepared, so planned for the term), and the connection binds parameters again after."""
    assert mode() == GENERIC
    sent: list[tuple[str, str]] = []

    def spy(execute, sql, params, many, context):
        sent.append((sql, type(context["cursor"].cursor).__name__))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        r = as_user("sam").get("/cases?search=CASE-10")
        assert r.status_code == 200 and r.json()["count"] >= 2
        searched = [kind for sql, kind in sent if "directory_case" in sql]
        assert searched and set(searched) == {"Cursor"}, sent  # Django's client-binding cursor
        assert as_user("sam").get(f"/cases/{org.case1001.pk}").status_code == 200
    assert sent[-1][1] == "ServerBindingCursor"  # one case by id: bound, prepared, generic
    assert mode() == GENERIC


def test_custom_plans_sends_no_statement_of_its_own(org, as_user, monkeypatch):
    from contextlib import nullcontext

    from django.test.utils import CaptureQueriesContext

    import directory.api

    def statements() -> int:
        as_user("sam").get("/cases?search=CASE-10")
        with CaptureQueriesContext(connection) as sent:
            r = as_user("sam").get("/cases?search=CASE-10")
        assert r.status_code == 200 and r.json()["count"] >= 2
        return len(sent)

    with_it = statements()
    monkeypatch.setattr(directory.api, "custom_plans", nullcontext)
    assert with_it == statements()


def test_an_unknown_plan_cache_mode_is_refused_at_start():
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "DB_PLAN_CACHE_MODE": "always",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x" * 50,
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DB_PLAN_CACHE_MODE must be auto, force_generic_plan or force_custom_plan" in (
        result.stderr
    ), result.stderr
