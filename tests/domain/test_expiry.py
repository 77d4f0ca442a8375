"""Expiry: read as expired everywhere at once, recorded once by the worker or the sweep."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from coaching import selectors, services
from coaching.models import Action, CancelReason, CoachingSession, State
from coaching.policies import access_session, allowed_actions
from coaching.rules import SessionFields
from core.errors import InvalidState, NotFound
from notifications.models import Kind

from .helpers import EXPIRED_TEXT, inbox, ref, schedule, suggest, world


@pytest.fixture
def start():
    return timezone.now().replace(microsecond=0)


def test_past_expiry_reads_expired_before_the_worker_runs(org, start):
    with time_machine.travel(start, tick=False) as t:
        s = suggest(org, expires_at=start + timedelta(days=1), reference_case_ids=[org.case1001.pk])
        other = suggest(org, title="later", expires_at=start + timedelta(days=5))
        t.move_to(start + timedelta(days=1))  # exactly at the Expiry Time
        s.refresh_from_db()
        assert s.state == State.SUGGESTED  # not recorded yet...
        assert (s.effective_state, s.effective_cancel_reason, s.effective_canceled_at) == (
            State.CANCELED,
            CancelReason.EXPIRED,
            s.expires_at,
        )  # ...but read as expired
        ids = lambda state: list(  # noqa: E731
            CoachingSession.objects.filter(selectors.state_q(state)).values_list("pk", flat=True)
        )
        assert ids("suggested") == [other.pk]
        assert ids("canceled") == [s.pk]
        assert [x.pk for x in selectors.sessions_to_coach(org.cora)] == [other.pk]
        # Agents no longer see it: it was never scheduled.
        assert s.pk not in [x.pk for x in selectors.sessions_for_trainee(org.alice, org.alice)]
        assert s.pk not in [x.pk for x in selectors.sessions_for_case(org.alice, org.case1001)]
        with pytest.raises(NotFound):
            access_session(org.alice, s.pk)
        # Supervisors still see it, as canceled.
        assert access_session(org.sam, s.pk).effective_state == State.CANCELED
        assert allowed_actions(org.cora, s) == dict.fromkeys(
            [
                "edit",
                "delete",
                "schedule",
                "decline",
                "reschedule",
                "cancel",
                "complete",
                "acknowledge",
            ],
            False,
        )
        before = world()
        for act in (
            lambda: schedule(org.cora, s),
            lambda: services.session_decline(actor=org.cora, session_id=s.pk, reason="x"),
            lambda: services.session_delete(actor=org.sam, session_id=s.pk),
            lambda: services.session_edit(
                actor=org.sam, session_id=s.pk, fields=SessionFields(title="x")
            ),
        ):
            with pytest.raises(InvalidState) as e:
                act()
            assert "expired" in e.value.message
        assert world() == before


def test_worker_records_expiry_once(org, run_worker, start):
    with time_machine.travel(start, tick=False) as t:
        s = suggest(org, coach=ref(org.coaching_team), expires_at=start + timedelta(hours=2))
        run_worker()  # e-mail of the suggestion; the expiry task waits for its time
        t.move_to(start + timedelta(hours=1, minutes=59))
        run_worker()
        s.refresh_from_db()
        assert s.state == State.SUGGESTED
        t.move_to(start + timedelta(hours=2))
        run_worker()
        s.refresh_from_db()
        assert (s.state, s.cancel_reason, s.canceled_at, s.canceled_by, s.version) == (
            State.CANCELED,
            CancelReason.EXPIRED,
            start + timedelta(hours=2),
            None,
            2,
        )
        ev = s.events.get(action=Action.EXPIRED)
        assert (ev.actor, ev.actor_name, ev.changes) == (None, "System", {})
        assert inbox(s, kind=Kind.SESSION_EXPIRED) == [
            ("carl.coach", EXPIRED_TEXT),
            ("cora.coach", EXPIRED_TEXT),
            ("sam.supervisor", EXPIRED_TEXT),
        ]
        before = world()
        t.move_to(start + timedelta(days=1))
        run_worker()
        assert not services.session_expire(session_id=s.pk)
        call_command("sweep", stdout=io.StringIO())
        assert world() == before


def test_expire_refuses_before_time_and_after_schedule(org, start):
    s = suggest(org, expires_at=start + timedelta(days=1))
    assert not services.session_expire(session_id=s.pk, now=start + timedelta(hours=23))
    schedule(org.cora, s)
    assert not services.session_expire(session_id=s.pk, now=start + timedelta(days=2))
    s.refresh_from_db()
    assert s.state == State.SCHEDULED
    assert not services.session_expire(session_id=999_999)


def test_scheduled_session_never_expires(org, run_worker, start):
    with time_machine.travel(start, tick=False) as t:
        s = suggest(org, expires_at=start + timedelta(days=1))
        schedule(org.cora, s)
        t.move_to(start + timedelta(days=2))
        run_worker()
        s.refresh_from_db()
        assert s.state == State.SCHEDULED and s.effective_state == State.SCHEDULED
        assert not s.events.filter(action=Action.EXPIRED).exists()


def test_sweep_expires_due_ones_and_is_idempotent(org, start):
    with time_machine.travel(start, tick=False) as t:
        due = [
            suggest(org, title=f"due {i}", expires_at=start + timedelta(hours=i + 1))
            for i in range(3)
        ]
        later = suggest(org, title="later", expires_at=start + timedelta(days=2))
        t.move_to(start + timedelta(days=1))
        out = io.StringIO()
        call_command("sweep", stdout=out)
        assert "expired 3 suggestion(s)" in out.getvalue()
        for s in due:
            s.refresh_from_db()
            assert (s.state, s.cancel_reason) == (State.CANCELED, CancelReason.EXPIRED)
            assert s.canceled_at == start + timedelta(days=1)
            assert s.events.filter(action=Action.EXPIRED).count() == 1
            assert len(inbox(s, kind=Kind.SESSION_EXPIRED)) == 2
        later.refresh_from_db()
        assert later.state == State.SUGGESTED
        before = world()
        call_command("sweep", stdout=io.StringIO())
        call_command("sweep", stdout=io.StringIO())
        assert world() == before


def test_sweep_pages_through_many(org, start):
    with time_machine.travel(start, tick=False) as t:
        for i in range(7):
            suggest(org, title=f"s{i}", expires_at=start + timedelta(hours=1))
        t.move_to(start + timedelta(hours=2))
        assert services.expire_due_suggestions(batch_size=3) == 7
        assert services.expire_due_suggestions(batch_size=3) == 0
    assert CoachingSession.objects.filter(state=State.CANCELED).count() == 7
