"""Which agents a coaching rule fires for, and the suggestions it makes (decisions.md,
"Data-driven coaching": coaching rules; no duplicates)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from coaching import services
from coaching.models import Action, CancelReason, SessionEvent, State
from directory.models import UserGroup, UserGroupMembership
from notifications.models import Kind, Notification
from qa import engine
from qa.models import CoachingRule

from .helpers import made_by_rules, rule, scores, suggested, trainees_of

pytestmark = pytest.mark.django_db


def fire(r: CoachingRule, *agents) -> engine.RunResult:
    return engine.run_rule(r.pk, [a.pk for a in agents] if agents else None)


def test_average_exactly_at_the_threshold_does_not_fire_just_below_does(org):
    area = org.areas["Empathy"]
    r = rule(org, threshold=70)
    scores(org.alice, area, [70, 70, 70, 70, 70])  # average 70.0
    scores(org.bob, area, [70, 70, 70, 70, 69])  # average 69.8
    result = fire(r)
    assert (result.firing, result.created) == (1, 1)
    [session] = made_by_rules()
    assert trainees_of(session) == ["bob.agent"]


def test_fewer_than_the_minimum_does_not_fire(org):
    area = org.areas["Empathy"]
    r = rule(org, window=5, min_evaluations=3)
    scores(org.alice, area, [10, 10])
    scores(org.bob, area, [10, 10, 10])
    fire(r)
    assert [trainees_of(s) for s in made_by_rules()] == [["bob.agent"]]


def test_only_the_last_n_evaluations_count(org):
    area = org.areas["Empathy"]
    r = rule(org, threshold=70, window=3, min_evaluations=3)
    # Alice was poor long ago and is fine now; Bob was fine and dropped lately.
    scores(org.alice, area, [10, 10, 10, 90, 90, 90])
    scores(org.bob, area, [90, 90, 90, 50, 60, 70])
    fire(r)
    assert [trainees_of(s) for s in made_by_rules()] == [["bob.agent"]]


def test_other_areas_and_inactive_agents_do_not_count(org):
    r = rule(org)
    scores(org.alice, org.areas["Compliance"], [10, 10, 10])
    scores(org.bob, org.areas["Empathy"], [10, 10, 10])
    org.bob.is_active = False
    org.bob.save()
    assert fire(r).firing == 0
    assert made_by_rules() == []


def test_a_rule_made_suggestion_is_an_ordinary_suggestion_without_author(org):
    r = rule(org, name="Empathy dip", expires_in_days=14)
    scores(org.alice, org.areas["Empathy"], [40, 50, 60])
    before = timezone.now()
    fire(r)
    [s] = made_by_rules()
    assert s.state == State.SUGGESTED
    assert s.title == "Empathy coaching: Empathy dip"
    assert s.suggested_by is None and s.suggested_by_name == "Empathy dip"
    assert s.coach_user == org.cora and s.coach_group is None
    assert s.coaching_area == org.areas["Empathy"]
    assert before + timedelta(days=14) <= s.expires_at <= timezone.now() + timedelta(days=14)
    event = SessionEvent.objects.get(session=s)
    assert (event.action, event.actor, event.actor_name) == (Action.SUGGESTED, None, "Empathy dip")
    assert event.changes["trainees"] == [
        {"type": "user", "id": org.alice.pk, "name": "Alice Agent"}
    ]
    r.refresh_from_db()
    assert r.suggestions_created == 1 and r.last_run_at is not None and r.last_error == ""


def test_the_coach_is_told_with_the_seed_text_naming_the_rule(org):
    r = rule(org, name="Empathy dip")
    scores(org.alice, org.areas["Empathy"], [40, 50, 60])
    fire(r)
    got = list(Notification.objects.values_list("recipient__username", "kind", "message"))
    assert got == [
        ("cora.coach", Kind.SESSION_SUGGESTED, "Empathy dip suggested a coaching session.")
    ]


def test_a_group_coach_means_each_active_member_is_told(org):
    org.carl.is_active = False
    org.carl.save()
    UserGroupMembership.objects.create(group=org.coaching_team, user=org.sue)
    r = rule(org, coach_user=None, coach_group=org.coaching_team, name="Team rule")
    scores(org.alice, org.areas["Empathy"], [40, 50, 60])
    fire(r)
    got = sorted(Notification.objects.values_list("recipient__username", "message"))
    assert got == [
        ("cora.coach", "Team rule suggested a coaching session."),
        ("sue.supervisor", "Team rule suggested a coaching session."),
    ]


def test_a_rerun_makes_nothing_new(org):
    r = rule(org)
    scores(org.alice, org.areas["Empathy"], [40, 50, 60])
    scores(org.bob, org.areas["Empathy"], [40, 50, 60])
    assert fire(r).created == 2
    again = fire(r)
    assert (again.firing, again.created, again.skipped) == (2, 0, 2)
    assert len(made_by_rules()) == 2
    r.refresh_from_db()
    assert r.suggestions_created == 2


def test_an_open_suggestion_made_by_a_person_blocks(org):
    r = rule(org)
    scores(org.alice, org.areas["Empathy"], [40, 50, 60])
    suggested(org, org.alice)
    assert fire(r).created == 0


def test_an_open_session_through_a_trainee_group_blocks(org):
    r = rule(org)
    scores(org.alice, org.areas["Empathy"], [40, 50, 60])
    s = suggested(org, org.tier1)
    services.session_schedule(
        actor=org.carl,
        session_id=s.pk,
        starts_at=timezone.now() + timedelta(days=2),
        duration_minutes=30,
    )
    assert fire(r).created == 0


def test_an_open_session_in_another_area_does_not_block(org):
    r = rule(org)
    scores(org.alice, org.areas["Empathy"], [40, 50, 60])
    suggested(org, org.alice, "Compliance")
    assert fire(r).created == 1


def test_canceled_completed_and_expired_sessions_do_not_block(org):
    r = rule(org)
    area = org.areas["Empathy"]
    scores(org.alice, area, [40, 50, 60])
    expires_at = timezone.now() + timedelta(days=1)
    deleted = suggested(org, org.alice, expires_at=expires_at)
    services.session_delete(actor=org.sam, session_id=deleted.pk)
    held = suggested(org, org.alice, expires_at=expires_at)
    start = timezone.now() + timedelta(hours=1)
    services.session_schedule(
        actor=org.carl, session_id=held.pk, starts_at=start, duration_minutes=30
    )
    with time_machine.travel(start + timedelta(minutes=40)):
        services.session_complete(actor=org.carl, session_id=held.pk, notes="done")
    suggested(org, org.alice, expires_at=expires_at)  # past its expiry by then
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert fire(r).created == 1
    assert {s.state for s in made_by_rules()} == {State.SUGGESTED}
    assert deleted.__class__.objects.get(pk=deleted.pk).cancel_reason == (
        CancelReason.DELETED_BY_SUPERVISOR
    )


def test_the_coach_is_never_their_own_trainee(org):
    r = rule(org, coach_user=org.cora)
    scores(org.cora, org.areas["Empathy"], [10, 10, 10])
    assert fire(r).created == 0


def test_a_coach_group_without_active_members_makes_nothing_and_says_why(org):
    group = UserGroup.objects.create(name="Gone")
    UserGroupMembership.objects.create(group=group, user=org.carl)
    r = rule(org, coach_user=None, coach_group=group)
    org.carl.is_active = False
    org.carl.save()
    scores(org.alice, org.areas["Empathy"], [10, 10, 10])
    result = fire(r)
    assert (result.created, result.error) == (0, "The group Gone has no active members.")
    r.refresh_from_db()
    assert r.last_error == "The group Gone has no active members."
    assert made_by_rules() == []


def test_an_inactive_rule_does_nothing(org):
    r = rule(org, active=False)
    scores(org.alice, org.areas["Empathy"], [10, 10, 10])
    assert fire(r).created == 0
    r.refresh_from_db()
    assert r.last_run_at is None


def test_chunks_each_commit_and_a_rerun_after_a_crash_makes_only_the_missing_ones(org, monkeypatch):
    from directory.models import User

    area = org.areas["Empathy"]
    agents = [
        User.objects.create(username=f"agent{i}", display_name=f"Agent {i}") for i in range(7)
    ]
    for a in agents:
        scores(a, area, [10, 10, 10])
    r = rule(org)
    real = engine.sessions_suggest_for_rule
    calls = {"n": 0}

    def crash_on_third_chunk(**kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return real(**kw)

    monkeypatch.setattr(engine, "sessions_suggest_for_rule", crash_on_third_chunk)
    with pytest.raises(RuntimeError):
        engine.run_rule(r.pk, chunk=2)
    assert len(made_by_rules()) == 4  # two chunks committed, the third rolled back
    monkeypatch.setattr(engine, "sessions_suggest_for_rule", real)
    result = engine.run_rule(r.pk, chunk=2)
    assert (result.created, result.skipped) == (3, 4)
    assert sorted(t for s in made_by_rules() for t in trainees_of(s)) == sorted(
        a.username for a in agents
    )
    r.refresh_from_db()
    assert r.suggestions_created == 7


def test_arriving_evaluations_enqueue_the_rules_of_their_areas(org, run_worker):
    rule(org)
    area = org.areas["Empathy"]
    scores(org.alice, area, [10, 10, 10])
    scores(org.bob, org.areas["Compliance"], [10, 10, 10])  # no rule there
    engine.evaluations_arrived([(org.alice.pk, area.pk), (org.bob.pk, org.areas["Compliance"].pk)])
    assert made_by_rules() == []  # only enqueued
    run_worker()
    assert [trainees_of(s) for s in made_by_rules()] == [["alice.agent"]]


def test_the_rule_made_suggestion_expires_and_reminds_like_any_other(org, run_worker):
    from coaching.models import Reminder, ReminderKind

    r = rule(org, expires_in_days=14)  # the reminder is 7 days ahead
    scores(org.alice, org.areas["Empathy"], [10, 10, 10])
    fire(r)
    [s] = made_by_rules()
    assert Reminder.objects.filter(session=s, kind=ReminderKind.SUGGESTION_EXPIRY).count() == 1
    with time_machine.travel(s.expires_at + timedelta(seconds=1)):
        run_worker()
    s.refresh_from_db()
    assert (s.state, s.cancel_reason) == (State.CANCELED, CancelReason.EXPIRED)


def test_a_batch_shares_one_reminder_task_and_each_coach_is_reminded_once(org, run_worker):
    from django_tasks_db.models import DBTaskResult

    from coaching.models import Reminder, ReminderStatus
    from notifications.models import Kind as NotificationKind

    r = rule(org, expires_in_days=14)
    for agent in (org.alice, org.bob, org.dan):
        scores(agent, org.areas["Empathy"], [10, 10, 10])
    fire(r)
    assert Reminder.objects.filter(status=ReminderStatus.PENDING).count() == 3
    reminder_tasks = DBTaskResult.objects.filter(task_path__endswith="send_reminders_due")
    assert reminder_tasks.count() == 1
    due = Reminder.objects.first().due_at
    with time_machine.travel(due + timedelta(seconds=1)):
        run_worker()
        run_worker()
    assert Reminder.objects.filter(status=ReminderStatus.SENT).count() == 3
    assert Notification.objects.filter(kind=NotificationKind.SUGGESTION_EXPIRING).count() == 3
