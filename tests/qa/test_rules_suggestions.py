"""Rule-made suggestions among the others: edited or deleted by QM Admins (decisions.md), shown
as the rule's, and answered by the API with origin `rule` and no author."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from coaching import services
from coaching.models import CancelReason, CoachingSession, State
from coaching.policies import Verb, allowed_actions, denial
from coaching.rules import SessionFields
from core.errors import PermissionDenied
from notifications.models import Kind, Notification
from qa import engine

from ..api.conftest import assert_problem
from .helpers import made_by_rules, rule, scores, suggested

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(org) -> CoachingSession:
    r = rule(org, name="Empathy dip")
    scores(org.alice, org.areas["Empathy"], [40, 50, 60])
    engine.run_rule(r.pk)
    [session] = made_by_rules()
    return session


def test_only_qm_admins_may_edit_or_delete_it(org, made):
    for person in (org.sam, org.sue, org.cora, org.alice):
        refused = denial(Verb.EDIT, person, made)
        assert isinstance(refused, PermissionDenied)
        assert refused.message == (
            "The coaching rule Empathy dip suggested this session: only a QM Admin may change it."
        )
        assert isinstance(denial(Verb.DELETE, person, made), PermissionDenied)
    actions = allowed_actions(org.admin, made)
    assert actions["edit"] and actions["delete"]
    edited = services.session_edit(
        actor=org.admin, session_id=made.pk, fields=SessionFields(title="Empathy follow-up")
    )
    assert edited.title == "Empathy follow-up"
    services.session_delete(actor=org.admin, session_id=made.pk)
    made.refresh_from_db()
    assert (made.state, made.cancel_reason) == (State.CANCELED, CancelReason.DELETED_BY_SUPERVISOR)


def test_its_coach_schedules_or_declines_it_as_any_other(org, made):
    actions = allowed_actions(org.cora, made)
    assert actions["schedule"] and actions["decline"] and not actions["edit"]
    services.session_schedule(
        actor=org.cora,
        session_id=made.pk,
        starts_at=timezone.now() + timedelta(days=2),
        duration_minutes=30,
    )
    made.refresh_from_db()
    assert made.state == State.SCHEDULED
    # Nobody authored it: the "scheduled based on your suggestion" notice has nobody to go to;
    # the trainee is invited.
    assert list(
        Notification.objects.filter(
            kind__in=[Kind.SESSION_SCHEDULED, Kind.SESSION_INVITATION]
        ).values_list("kind", "recipient__username")
    ) == [(Kind.SESSION_INVITATION, "alice.agent")]


def test_a_suggestion_whose_author_left_is_the_qm_admins_too(org):
    s = suggested(org, org.alice, coach=org.cora)
    CoachingSession.objects.filter(pk=s.pk).update(suggested_by=None)
    s.refresh_from_db()
    refused = denial(Verb.EDIT, org.sam, s)
    assert isinstance(refused, PermissionDenied)
    assert refused.message == "Its author has left: only a QM Admin may change this suggestion."
    assert denial(Verb.DELETE, org.admin, s) is None


def test_the_api_shows_origin_rule_and_no_author(org, made, as_user):
    got = json.loads(as_user("cora").get(f"/coaching-sessions/{made.pk}").content)
    assert (got["origin"], got["suggested_by"], got["suggested_by_name"]) == (
        "rule",
        None,
        "Empathy dip",
    )
    assert got["actions"]["edit"] is False and got["actions"]["schedule"] is True
    refused = assert_problem(
        as_user("sam").patch(f"/coaching-sessions/{made.pk}", {"title": "x"}),
        403,
        "permission_denied",
    )
    assert refused["detail"] == (
        "The coaching rule Empathy dip suggested this session: only a QM Admin may change it."
    )
    admin = as_user("admin")
    r = admin.patch(f"/coaching-sessions/{made.pk}", {"title": "Renamed"})
    assert r.status_code == 200 and json.loads(r.content)["actions"]["edit"] is True


def test_a_person_cannot_claim_origin_rule(org, as_user):
    r = as_user("sam").post(
        "/coaching-sessions",
        {
            "title": "Empathy",
            "coach": {"type": "user", "id": org.cora.pk},
            "trainees": [{"type": "user", "id": org.alice.pk}],
            "coaching_area_id": org.areas["Empathy"].pk,
            "origin": "rule",
        },
    )
    assert_problem(r, 422, "validation_failed", [("origin", "invalid")])
    assert not CoachingSession.objects.exists()


def test_the_pages_name_the_rule(org, made):
    client = Client()
    client.force_login(org.cora)
    page = client.get(f"/sessions/{made.pk}/").content.decode()
    assert "Empathy dip (coaching rule)" in page
    assert "from the Coaching rule" not in page
    home = client.get("/").content.decode()
    assert "Empathy dip (coaching rule)" in home
