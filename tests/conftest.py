"""Shared fixtures: the demo organisation's named people, a way to run the worker's queue,
and the switches that make a missing browser or database loud in CI."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from django.db import connection

from core.testing import drain_tasks
from demo.loader import load

IN_CI = os.environ.get("CI") == "true"


def pytest_collection_modifyitems(config, items):
    on_postgres = connection.vendor == "postgresql"
    for item in items:
        if "postgres_only" in item.keywords and not on_postgres:
            item.add_marker(
                pytest.mark.skip(
                    reason="PostgreSQL-only (row locks, query plans); runs in the PostgreSQL pass"
                )
            )


@pytest.fixture
def org(db) -> SimpleNamespace:
    """The demo organisation as demo-org.md lists it (no generated extras), by short name:
    org.sam, org.sue, org.cora, org.carl, org.alice, org.bob, org.dan, org.audrey, org.nora,
    org.admin; groups org.coaching_team, org.tier1, org.sam_only, org.empty_group; areas by name
    in org.areas; cases org.case1001, org.case1002."""
    return build_org()


def build_org() -> SimpleNamespace:
    from directory.models import Case, CoachingArea, User, UserGroup

    load(extras=False)
    users = {u.username.split(".")[0]: u for u in User.objects.all()}
    groups = {g.name: g for g in UserGroup.objects.all()}
    return SimpleNamespace(
        **users,
        coaching_team=groups["Coaching Team"],
        tier1=groups["Tier 1"],
        sam_only=groups["Sam Only"],
        empty_group=groups["Empty Group"],
        areas={a.name: a for a in CoachingArea.objects.all()},
        case1001=Case.objects.get(number="CASE-1001"),
        case1002=Case.objects.get(number="CASE-1002"),
    )


@pytest.fixture
def run_worker():
    """Run the background queue now, as `db_worker --batch` would: `run_worker()` -> tasks run."""
    return drain_tasks


@pytest.fixture
def mailoutbox_list(mailoutbox):
    return mailoutbox
