"""Who may do what in which state (decisions.md "Who may do what"), with each outcome: state,
audit row, notification texts and recipients; and a refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone

from coaching import services
from coaching.models import Action, CancelReason, State
from coaching.policies import access_session, allowed_actions
from coaching.rules import SessionFields
from coaching.selectors import sessions_to_coach
from core.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from directory.models import User, UserGroup, UserGroupMembership
from directory.permissions import Role
from notifications.models import Kind, Notification

from .helpers import (
    CANCELED_BY_SUPERVISOR_TEXT,
    EXPIRED_TEXT,
    codes,
    events,
    fresh,
    inbox,
    ref,
    schedule,
    suggest,
    world,
)


def refused(exc_type, fn, **kw):
    before = world()
    with pytest.raises(exc_type) as e:
        fn(**kw)
    assert world() == before
    return e.value


def delete(actor, s):
    return services.session_delete(actor=actor, session_id=s.pk)


def decline(actor, s, reason="Not now"):
    return services.session_decline(actor=actor, session_id=s.pk, reason=reason)


def edit(actor, s, **kw):
    return services.session_edit(actor=actor, session_id=s.pk, fields=SessionFields(**kw))


# --- suggest ----------------------------------------------------------------------------------
def test_suggest_notifies_coach(org):
    s = suggest(org)
    assert inbox(s) == [("cora.coach", "Sam Supervisor suggested a coaching session.")]
    n = Notification.objects.get(session=s)
    assert n.kind == Kind.SESSION_SUGGESTED and n.session_id == s.pk
    assert events(s) == [("suggested", "sam.supervisor")]


def test_suggest_to_coach_group_notifies_active_members(org):
    User.objects.filter(pk=org.carl.pk).update(is_active=False)
    UserGroupMembership.objects.create(group=org.coaching_team, user=org.dan)
    s = suggest(org, coach=ref(org.coaching_team))
    assert inbox(s) == [
        ("cora.coach", "Sam Supervisor suggested a coaching session."),
        ("dan.agent", "Sam Supervisor suggested a coaching session."),
    ]


def test_nobody_notified_of_own_action(org):
    mixed = UserGroup.objects.create(name="Mixed")
    UserGroupMembership.objects.create(group=mixed, user=org.sam)
    UserGroupMembership.objects.create(group=mixed, user=org.cora)
    s = suggest(org, coach=ref(mixed))
    assert inbox(s) == [("cora.coach", "Sam Supervisor suggested a coaching session.")]


@pytest.mark.parametrize("who", ["cora", "alice", "nora"])
def test_suggest_needs_create_suggestions(org, who):
    user = getattr(org, who)
    refused(
        PermissionDenied,
        services.session_suggest,
        actor=user,
        fields=SessionFields(
            title="x",
            coach=ref(org.carl),
            trainees=[ref(org.bob)],
            coaching_area_id=org.areas["Empathy"].pk,
        ),
    )


def test_deactivated_supervisor_cannot_suggest(org):
    User.objects.filter(pk=org.sam.pk).update(is_active=False)
    with pytest.raises(PermissionDenied):
        suggest(org, actor=fresh(org.sam))


# --- edit / delete ------------------------------------------------------------------------------
def test_author_deletes(org):
    s = suggest(org)
    delete(org.sam, s)
    s.refresh_from_db()
    assert (s.state, s.cancel_reason, s.canceled_by, s.version) == (
        State.CANCELED,
        CancelReason.DELETED_BY_SUPERVISOR,
        org.sam,
        2,
    )
    assert s.canceled_at is not None
    assert events(s) == [("suggested", "sam.supervisor"), ("deleted", "sam.supervisor")]
    assert inbox(s, kind=Kind.SESSION_CANCELED_BY_SUPERVISOR) == [
        ("cora.coach", CANCELED_BY_SUPERVISOR_TEXT)
    ]


def test_admin_deletes_and_edits(org):
    s = suggest(org, coach=ref(org.coaching_team))
    edit(org.admin, s, title="Renamed by admin")
    s.refresh_from_db()
    assert s.title == "Renamed by admin"
    delete(org.admin, s)
    s.refresh_from_db()
    assert s.cancel_reason == CancelReason.DELETED_BY_SUPERVISOR
    assert s.events.last().actor == org.admin
    assert inbox(s, kind=Kind.SESSION_CANCELED_BY_SUPERVISOR) == [
        ("carl.coach", CANCELED_BY_SUPERVISOR_TEXT),
        ("cora.coach", CANCELED_BY_SUPERVISOR_TEXT),
    ]


@pytest.mark.parametrize("who", ["sue", "cora", "alice", "audrey"])
def test_others_who_see_it_may_not_edit_or_delete(org, who):
    s = suggest(org)
    user = getattr(org, who)
    assert access_session(user, s.pk).pk == s.pk  # they see it...
    refused(PermissionDenied, services.session_delete, actor=user, session_id=s.pk)  # ...not act
    refused(
        PermissionDenied,
        services.session_edit,
        actor=user,
        session_id=s.pk,
        fields=SessionFields(title="mine now"),
    )
    assert allowed_actions(user, s) == {
        "edit": False,
        "delete": False,
        "schedule": who == "cora",
        "decline": who in ("cora", "alice"),
        "reschedule": False,
        "cancel": False,
        "complete": False,
        "acknowledge": False,
    }


@pytest.mark.parametrize("who", ["nora", "dan", "bob"])
def test_those_who_may_not_see_it_get_not_found(org, who):
    s = suggest(org)
    user = getattr(org, who)
    with pytest.raises(NotFound):
        access_session(user, s.pk)
    for fn, kw in [
        (services.session_delete, {}),
        (services.session_edit, {"fields": SessionFields(title="x")}),
        (services.session_decline, {"reason": "x"}),
        (
            services.session_schedule,
            {"starts_at": timezone.now() + timedelta(days=1), "duration_minutes": 30},
        ),
    ]:
        refused(NotFound, fn, actor=user, session_id=s.pk, **kw)


def test_unknown_session_is_not_found(org):
    with pytest.raises(NotFound):
        delete(org.sam, type("S", (), {"pk": 999_999})())


def test_author_without_create_suggestions_may_not_change(org):
    s = suggest(org)
    sam = fresh(org.sam)
    sam.groups.set([Group.objects.get(name=Role.COACH)])
    sam = fresh(sam)
    refused(PermissionDenied, services.session_delete, actor=sam, session_id=s.pk)


# --- schedule ---------------------------------------------------------------------------------
def test_coach_schedules(org):
    s = suggest(org)
    starts = timezone.now() + timedelta(days=3)
    schedule(org.cora, s, starts_at=starts, duration_minutes=60, location=" Room 4 ")
    s.refresh_from_db()
    assert (s.state, s.starts_at, s.duration_minutes, s.location) == (
        State.SCHEDULED,
        starts,
        60,
        "Room 4",
    )
    assert (s.scheduled_by, s.version, s.cancel_reason) == (org.cora, 2, "")
    assert events(s) == [("suggested", "sam.supervisor"), ("scheduled", "cora.coach")]
    assert inbox(s, kind=Kind.SESSION_SCHEDULED) == [
        ("sam.supervisor", "Cora Coach has scheduled a session based on your suggestion.")
    ]


def test_coach_group_member_schedules_first_wins(org):
    s = suggest(org, coach=ref(org.coaching_team))
    schedule(org.carl, s)
    assert inbox(s, kind=Kind.SESSION_SCHEDULED) == [
        ("sam.supervisor", "Carl Coach has scheduled a session based on your suggestion.")
    ]
    e = refused(InvalidState, schedule, actor=org.cora, session=s)
    assert "already been scheduled" in e.message
    refused(InvalidState, decline, actor=org.cora, s=s)


@pytest.mark.parametrize("who", ["sam", "sue", "alice", "audrey", "admin", "carl"])
def test_only_the_coach_schedules(org, who):
    s = suggest(org)
    refused(PermissionDenied, schedule, actor=getattr(org, who), session=s)


def test_removed_group_member_may_no_longer_schedule(org):
    s = suggest(org, coach=ref(org.coaching_team))
    UserGroupMembership.objects.filter(group=org.coaching_team, user=org.carl).delete()
    refused(PermissionDenied, schedule, actor=fresh(org.carl), session=s)


# --- decline ----------------------------------------------------------------------------------
def test_coach_declines(org):
    s = suggest(org)
    decline(org.cora, s, reason="  Alice did this module last week  ")
    s.refresh_from_db()
    assert (s.state, s.cancel_reason, s.cancel_note, s.canceled_by_name) == (
        State.CANCELED,
        CancelReason.DECLINED_BY_COACH,
        "Alice did this module last week",
        "Cora Coach",
    )
    ev = s.events.last()
    assert (ev.action, ev.actor, ev.changes) == (
        Action.DECLINED_BY_COACH,
        org.cora,
        {"reason": "Alice did this module last week"},
    )
    assert inbox(s, kind=Kind.SESSION_CANCELED_BY_COACH) == [
        (
            "sam.supervisor",
            "Coaching Session has been canceled as Cora Coach has declined the suggested session "
            "because of Alice did this module last week.",
        )
    ]


def test_coach_group_member_declines(org):
    s = suggest(org, coach=ref(org.coaching_team))
    decline(org.carl, s, reason="Busy")
    assert inbox(s, kind=Kind.SESSION_CANCELED_BY_COACH) == [
        (
            "sam.supervisor",
            "Coaching Session has been canceled as Carl Coach has declined the suggested session "
            "because of Busy.",
        )
    ]


def test_direct_trainee_declines(org):
    s = suggest(org)
    decline(org.alice, s, reason="On leave")
    s.refresh_from_db()
    assert (s.state, s.cancel_reason) == (State.CANCELED, CancelReason.DECLINED_BY_TRAINEE)
    assert events(s)[-1] == ("declined_by_trainee", "alice.agent")
    text = (
        "Coaching Session has been canceled as Alice Agent has declined the suggested session "
        "because of On leave."
    )
    assert inbox(s, kind=Kind.SESSION_CANCELED_BY_TRAINEE) == [
        ("cora.coach", text),
        ("sam.supervisor", text),
    ]


def test_trainee_through_group_declines(org):
    s = suggest(org, coach=ref(org.coaching_team), trainees=[ref(org.tier1)])
    decline(org.bob, s, reason="Wrong team")
    text = (
        "Coaching Session has been canceled as Bob Agent has declined the suggested session "
        "because of Wrong team."
    )
    assert inbox(s, kind=Kind.SESSION_CANCELED_BY_TRAINEE) == [
        ("carl.coach", text),
        ("cora.coach", text),
        ("sam.supervisor", text),
    ]


def test_coach_who_is_also_a_trainee_declines_as_coach(org):
    s = suggest(org, coach=ref(org.coaching_team), trainees=[ref(org.carl)])
    decline(org.carl, s, reason="x")
    s.refresh_from_db()
    assert s.cancel_reason == CancelReason.DECLINED_BY_COACH


@pytest.mark.parametrize(
    "reason, code", [("", "required"), ("   ", "required"), ("x" * 1001, "too_long")]
)
def test_decline_reason_rules(org, reason, code):
    s = suggest(org)
    e = refused(ValidationFailed, decline, actor=org.cora, s=s, reason=reason)
    assert codes(e) == [("reason", code)]


def test_decline_reason_of_1000_characters(org):
    s = suggest(org)
    decline(org.cora, s, reason="y" * 1000)
    s.refresh_from_db()
    assert s.cancel_note == "y" * 1000


@pytest.mark.parametrize("who", ["sam", "sue", "audrey", "carl", "admin"])
def test_others_may_not_decline(org, who):
    s = suggest(org)
    refused(PermissionDenied, decline, actor=getattr(org, who), s=s)


# --- closed sessions accept nothing --------------------------------------------------------------
def close(org, s, how):
    if how == "scheduled":
        schedule(org.cora, s)
    elif how == "deleted":
        delete(org.sam, s)
    elif how == "declined_by_coach":
        decline(org.cora, s)
    elif how == "declined_by_trainee":
        decline(org.alice, s)
    elif how == "expired":
        assert services.session_expire(session_id=s.pk, now=s.expires_at)


ACTIONS = {
    "edit": lambda org, s: edit(org.sam, s, title="late"),
    "delete": lambda org, s: delete(org.sam, s),
    "schedule": lambda org, s: schedule(org.cora, s),
    "decline_coach": lambda org, s: decline(org.cora, s),
    "decline_trainee": lambda org, s: decline(org.alice, s),
    "admin_delete": lambda org, s: delete(org.admin, s),
}


@pytest.mark.parametrize(
    "how", ["scheduled", "deleted", "declined_by_coach", "declined_by_trainee", "expired"]
)
def test_every_action_refused_once_closed(org, how):
    s = suggest(org)
    with time_machine.travel(timezone.now(), tick=False) as t:
        if how == "expired":
            t.move_to(s.expires_at + timedelta(seconds=1))
        close(org, s, how)
        before = world()
        for name, act in ACTIONS.items():
            # Alice no longer *sees* a suggestion canceled before it was scheduled, but as its
            # trainee she is told it is closed, not that it does not exist.
            with pytest.raises(InvalidState):
                act(org, s)
            assert world() == before, name
        s.refresh_from_db()
        assert not any(allowed_actions(org.sam, s).values())


# --- the author leaves ----------------------------------------------------------------------
def test_deactivated_author_suggestion_stays_and_coach_schedules(org):
    s = suggest(org, coach=ref(org.coaching_team))
    User.objects.filter(pk=org.sam.pk).update(is_active=False)
    s.refresh_from_db()
    assert s.state == State.SUGGESTED
    assert [x.pk for x in sessions_to_coach(fresh(org.cora))] == [s.pk]
    schedule(org.cora, s)
    s.refresh_from_db()
    assert s.state == State.SCHEDULED and s.suggested_by_name == "Sam Supervisor"
    assert inbox(s, kind=Kind.SESSION_SCHEDULED) == []  # the author's notification is dropped


def test_deactivated_author_can_no_longer_edit(org):
    s = suggest(org)
    User.objects.filter(pk=org.sam.pk).update(is_active=False)
    refused(NotFound, services.session_delete, actor=fresh(org.sam), session_id=s.pk)


def test_deleted_author_suggestion_stays_and_coach_declines(org):
    s = suggest(org)
    s2 = suggest(org)
    User.objects.get(pk=org.sam.pk).delete()
    s.refresh_from_db()
    assert (s.state, s.suggested_by, s.suggested_by_name) == (
        State.SUGGESTED,
        None,
        "Sam Supervisor",
    )
    assert s.events.first().actor_name == "Sam Supervisor"
    decline(org.cora, s, reason="Nobody to follow up with")
    s.refresh_from_db()
    assert s.cancel_reason == CancelReason.DECLINED_BY_COACH
    assert inbox(s, kind=Kind.SESSION_CANCELED_BY_COACH) == []
    # A trainee's decline still reaches the coach; the author's copy is dropped.
    decline(org.alice, s2, reason="No")
    assert [r for r, _ in inbox(s2, kind=Kind.SESSION_CANCELED_BY_TRAINEE)] == ["cora.coach"]


def test_deleted_author_suggestion_schedules_and_expires(org):
    s = suggest(org)
    s2 = suggest(org, coach=ref(org.coaching_team))
    User.objects.get(pk=org.sam.pk).delete()
    schedule(org.cora, s)
    s.refresh_from_db()
    assert s.state == State.SCHEDULED
    assert inbox(s, kind=Kind.SESSION_SCHEDULED) == []
    # The rules that protect the author have nobody to protect; the others still hold.
    assert services.session_expire(session_id=s2.pk, now=s2.expires_at)
    assert inbox(s2, kind=Kind.SESSION_EXPIRED) == [
        ("carl.coach", EXPIRED_TEXT),
        ("cora.coach", EXPIRED_TEXT),
    ]
