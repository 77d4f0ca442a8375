"""The demo organisation of demo-org.md, the permissions enum in Meta, and the database's own
guard of the coach-user-xor-group rule."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from coaching.models import CoachingSession, State
from demo.loader import load
from directory.models import Case, CoachingArea, User, UserGroup
from directory.permissions import Perm

# The table of demo-org.md, written out by hand.
EXPECTED_USERS = {
    "admin": ("Quinn Admin", {"QM Admin"}, True),
    "sam.supervisor": ("Sam Supervisor", {"Supervisor"}, False),
    "sue.supervisor": ("Sue Supervisor", {"Supervisor"}, False),
    "cora.coach": ("Cora Coach", {"Coach"}, False),
    "carl.coach": ("Carl Coach", {"Coach"}, False),
    "alice.agent": ("Alice Agent", {"Agent"}, False),
    "bob.agent": ("Bob Agent", {"Agent"}, False),
    "dan.agent": ("Dan Agent", {"Agent"}, False),
    "audrey.auditor": ("Audrey Auditor", {"Auditor"}, False),
    "nora.noperm": ("Nora Noperm", set(), False),
}
V, C, A, IMP = "view_suggestions", "create_suggestions", "view_analytics", "import_evaluations"
EXPECTED_PERMS = {
    "admin": {V, C, A},
    "sam.supervisor": {V, C, A},
    "sue.supervisor": {V, C, A},
    "cora.coach": {V, A},
    "carl.coach": {V, A},
    "alice.agent": {V},
    "bob.agent": {V},
    "dan.agent": {V},
    "audrey.auditor": {V, A},
    "nora.noperm": set(),
}
EXPECTED_ROLE_PERMS = {
    "QM Admin": {V, C, A, IMP},
    "Supervisor": {V, C, A},
    "Coach": {V, A},
    "Agent": {V},
    "Auditor": {V, A},
}


def counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()}


def test_permissions_exist_with_their_names(db):
    rows = dict(
        Permission.objects.filter(
            content_type__app_label="coaching", codename__in=[V, C, A, IMP]
        ).values_list("codename", "name")
    )
    assert rows == {
        V: "View Suggestions",
        C: "Create Suggestions",
        A: "View Analytics",
        IMP: "Import Evaluations",
    }
    assert {p.full for p in Perm} == {"coaching." + c for c in (V, C, A, IMP)}
    assert CoachingSession._meta.permissions == [
        (V, "View Suggestions"),
        (C, "Create Suggestions"),
        (A, "View Analytics"),
        (IMP, "Import Evaluations"),
    ]


def test_demo_org_is_exactly_the_spec(org):
    users = {u.username: u for u in User.objects.all()}
    assert set(users) == set(EXPECTED_USERS)
    for username, (display, roles, superuser) in EXPECTED_USERS.items():
        u = users[username]
        assert u.display_name == display, username
        assert set(u.groups.values_list("name", flat=True)) == roles, username
        assert u.is_superuser == superuser and u.is_active, username
        assert u.check_password("demo"), username
        assert u.email == f"{username}@demo.example"
        assert {p for p in (V, C, A) if u.has_perm(f"coaching.{p}")} == EXPECTED_PERMS[username]
    for role, perms in EXPECTED_ROLE_PERMS.items():
        assert (
            set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))
            == perms
        )
    groups = {
        g.name: sorted(g.members.values_list("username", flat=True))
        for g in UserGroup.objects.all()
    }
    assert groups == {
        "Coaching Team": ["carl.coach", "cora.coach"],
        "Tier 1": ["alice.agent", "bob.agent"],
        "Sam Only": ["sam.supervisor"],
        "Empty Group": [],
    }
    assert sorted(CoachingArea.objects.values_list("name", "is_active")) == [
        ("Call Handling", True),
        ("Compliance", True),
        ("Empathy", True),
        ("Product Knowledge", True),
    ]
    parts = {
        c.number: sorted(c.participations.values_list("user__username", "role"))
        for c in Case.objects.all()
    }
    assert parts == {
        "CASE-1001": [
            ("alice.agent", "agent"),
            ("audrey.auditor", "auditor"),
            ("bob.agent", "agent"),
        ],
        "CASE-1002": [("audrey.auditor", "auditor"), ("dan.agent", "agent")],
    }


def test_load_twice_changes_nothing(db):
    first = load()
    assert first["users"] == 10 and first["cases"] >= 2 and first["sessions"] > 0
    before = counts()
    assert load() == dict.fromkeys(first, 0)
    assert counts() == before


def test_full_demo_has_sessions_in_each_state(db):
    load()
    states = {(s.effective_state, s.cancel_reason) for s in CoachingSession.objects.all()}
    assert {
        ("suggested", ""),
        ("scheduled", ""),
        ("canceled", "deleted_by_supervisor"),
        ("canceled", "declined_by_coach"),
        ("canceled", "declined_by_trainee"),
        ("canceled", "expired"),
        ("canceled", "canceled_by_coach"),
        ("completed", ""),
    } <= states
    from coaching.models import SessionAttendee

    held_after_scheduling = [
        "Demo: Refund empathy follow-up",
        "Demo: Compliance wording for cancellations",
    ]
    acks = dict(
        SessionAttendee.objects.filter(
            session__state="completed", session__title__in=held_after_scheduling, role="trainee"
        ).values_list("user__username", "acknowledged_at")
    )
    assert acks["alice.agent"] is not None  # acknowledged
    assert acks["bob.agent"] is None and acks["dan.agent"] is None  # waiting
    completed = CoachingSession.objects.filter(state="completed")
    assert all(s.completion_notes and s.action_items for s in completed)


def test_full_demo_has_coaching_rules_and_a_rule_made_suggestion(db):
    from qa.models import CoachingRule

    load()
    rules = {
        r.name: (r.coaching_area.name, r.threshold, r.window, r.min_evaluations, str(r.coach))
        for r in CoachingRule.objects.all()
    }
    assert rules == {
        "Call handling below 80": ("Call Handling", 80, 5, 3, "Coaching Team"),
        "Compliance below 70": ("Compliance", 70, 5, 3, "Cora Coach"),
    }
    made = CoachingSession.objects.filter(origin="rule")
    # Dan's recent Call Handling scores are low; his low Compliance scores already have an open
    # session, so the Compliance rule makes none.
    assert [
        (s.suggested_by_id, s.suggested_by_name, s.coaching_area.name, s.state) for s in made
    ] == [(None, "Call handling below 80", "Call Handling", "suggested")]
    assert [u.username for u in made[0].trainee_users.all()] == ["dan.agent"]
    assert CoachingRule.objects.get(name="Call handling below 80").suggestions_created == 1
    assert CoachingRule.objects.get(name="Compliance below 70").suggestions_created == 0


def test_the_tests_demo_fixture_has_no_rules(org):
    from qa.models import CoachingRule

    assert not CoachingRule.objects.exists()
    assert not CoachingSession.objects.filter(origin="rule").exists()


@override_settings(DEBUG=False)
def test_loader_refuses_without_force_when_debug_off(db):
    with pytest.raises(CommandError, match="--force"):
        call_command("load_demo", stdout=io.StringIO())
    assert User.objects.count() == 0
    call_command("load_demo", "--force", stdout=io.StringIO())
    assert User.objects.filter(username="sam.supervisor").exists()
    before = counts()
    out = io.StringIO()
    call_command("load_demo", "--force", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert counts() == before


@override_settings(DEBUG=True)
def test_loader_runs_when_debug_on(db):
    call_command("load_demo", stdout=io.StringIO())
    assert User.objects.count() == 10


# --- database constraints -------------------------------------------------------------------
def _raw(org, **kw):
    base = dict(
        title="raw",
        state=State.SUGGESTED,
        coaching_area=org.areas["Empathy"],
        expires_at=timezone.now(),
        suggested_by_name="x",
    )
    base.update(kw)
    with transaction.atomic():
        CoachingSession.objects.create(**base)


def test_db_enforces_coach_user_xor_group(org):
    with pytest.raises(IntegrityError):
        _raw(org, coach_user=org.cora, coach_group=org.coaching_team)
    with pytest.raises(IntegrityError):
        _raw(org)
    _raw(org, coach_user=org.cora)
    _raw(org, coach_group=org.coaching_team)
    assert CoachingSession.objects.count() == 2


def test_db_enforces_cancel_reason_iff_canceled(org):
    with pytest.raises(IntegrityError):
        _raw(org, coach_user=org.cora, state=State.CANCELED)
    with pytest.raises(IntegrityError):
        _raw(org, coach_user=org.cora, cancel_reason="expired")
    with pytest.raises(IntegrityError):
        _raw(org, coach_user=org.cora, state=State.SCHEDULED)  # without a start time
    assert CoachingSession.objects.count() == 0


def test_full_demo_shows_the_effect_of_coaching(db):
    """The sessions held weeks ago have evaluations on both sides: the session page, the agent's
    page and the report show a change on first run."""
    from qa.effect import coaching_effect_report, session_effect

    load()
    sam = User.objects.get(username="sam.supervisor")
    held = CoachingSession.objects.filter(
        title__in=[
            "Demo: Empathy in refund calls",
            "Demo: Compliance checklist",
            "Demo: Plan comparisons",
        ]
    )
    assert held.count() == 3
    for session in held:
        (effect,) = session_effect(session, sam)
        assert effect.delta is not None, session.title
    now = timezone.now()
    report = coaching_effect_report(group_by="coach", start=now - timedelta(days=89), end=now)
    assert {r.name for r in report.rows} >= {"Cora Coach", "Carl Coach"}
    assert any(r.baseline_mean_delta is not None for r in report.rows)
