"""Real concurrency on PostgreSQL after scheduling: a reschedule, a cancel by the coach, a cancel
by a QM Admin and a completion hit one started session at the same instant. Every state change
wins at most once; a reschedule may also go before or after any of them, never after a close."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coaching import services
from coaching.models import Action, CoachingSession, SessionEvent, State
from core.errors import InvalidState, ValidationFailed
from directory.models import User
from notifications.models import Kind, Notification

from .helpers import at_once, ref, suggest

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
ROUNDS = 15


def _started_session(org) -> CoachingSession:
    s = suggest(org, coach=ref(org.coaching_team), trainees=[ref(org.alice)])
    start = timezone.now() + timedelta(hours=1)
    services.session_schedule(
        actor=org.cora,
        session_id=s.pk,
        starts_at=start,
        duration_minutes=30,
        allow_conflicts=True,
    )
    # Start it: the start passes (completion needs that); a reschedule then sets a new future one.
    CoachingSession.objects.filter(pk=s.pk).update(starts_at=timezone.now() - timedelta(minutes=5))
    return s


def test_reschedule_cancel_and_complete_race(org):
    outcomes: list[dict[str, object]] = []
    for _ in range(ROUNDS):
        s = _started_session(org)

        def user(username: str) -> User:
            return User.objects.get(username=username)

        acts = {
            "reschedule": lambda s=s: services.session_reschedule(
                actor=user("carl.coach"),
                session_id=s.pk,
                starts_at=timezone.now() + timedelta(days=3),
                duration_minutes=45,
                allow_conflicts=True,
            ),
            "cancel": lambda s=s: services.session_cancel(
                actor=user("cora.coach"), session_id=s.pk, reason="busy"
            ),
            "admin_cancel": lambda s=s: services.session_cancel(
                actor=user("admin"), session_id=s.pk, reason="freeze"
            ),
            "complete": lambda s=s: services.session_complete(
                actor=user("cora.coach"), session_id=s.pk, notes="held"
            ),
        }
        outcome = {
            n: True if isinstance(r, CoachingSession) else r for n, r in at_once(acts).items()
        }
        outcomes.append(outcome)
        closers = [n for n in ("cancel", "admin_cancel", "complete") if outcome[n] is True]
        s.refresh_from_db()
        actions = list(
            SessionEvent.objects.filter(session=s)
            .exclude(action__in=[Action.SUGGESTED, Action.SCHEDULED])
            # In commit order: each service takes its time as the request comes in, before it
            # waits for the lock, so `at` may run backwards across two racing changes.
            .order_by("id")
            .values_list("action", flat=True)
        )
        # Exactly one closing change, unless a reschedule moved the start into the future first
        # (then completing is refused as "not started" and one cancel wins).
        assert len(closers) == 1, outcome
        for name in ("cancel", "admin_cancel", "complete"):
            if name not in closers:
                assert isinstance(outcome[name], InvalidState), (name, outcome[name])
        if outcome["reschedule"] is True:
            assert actions[0] == Action.RESCHEDULED, actions
        else:
            assert isinstance(outcome["reschedule"], (InvalidState, ValidationFailed))
        closing = [a for a in actions if a != Action.RESCHEDULED]
        assert len(closing) == 1
        expected_state = State.COMPLETED if closers == ["complete"] else State.CANCELED
        assert s.state == expected_state
        kind = (
            Kind.SESSION_COMPLETED
            if expected_state == State.COMPLETED
            else Kind.SESSION_CANCELED_AFTER_SCHEDULING
        )
        closing_notices = Notification.objects.filter(session=s, kind=kind)
        assert sorted(closing_notices.values_list("recipient__username", flat=True)) in (
            ["alice.agent", "sam.supervisor"],
            ["alice.agent", "cora.coach", "sam.supervisor"],  # the admin canceled: coach told
            ["alice.agent", "carl.coach", "sam.supervisor"],
        )
    assert len(outcomes) == ROUNDS
