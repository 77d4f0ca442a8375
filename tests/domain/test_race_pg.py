"""Real concurrency on PostgreSQL: five actors hit one suggestion at the same instant; exactly
one wins, the others are told it is already closed, and one set of notifications goes out."""

from __future__ import annotations

import io
import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from coaching import services
from coaching.models import Action, CoachingSession, SessionEvent, State
from core.errors import InvalidState
from directory.models import User
from notifications.models import Kind, Notification

from .helpers import at_once, ref, suggest

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 25

# The notifications each winner sends: kind -> recipients.
EXPECTED = {
    "schedule": (Kind.SESSION_SCHEDULED, ["sam.supervisor"]),
    "delete": (Kind.SESSION_CANCELED_BY_SUPERVISOR, ["carl.coach", "cora.coach"]),
    "expire": (Kind.SESSION_EXPIRED, ["carl.coach", "cora.coach", "sam.supervisor"]),
    "decline_coach": (Kind.SESSION_CANCELED_BY_COACH, ["sam.supervisor"]),
    "decline_trainee": (
        Kind.SESSION_CANCELED_BY_TRAINEE,
        ["carl.coach", "cora.coach", "sam.supervisor"],
    ),
}
TRANSITIONS = {
    "schedule": Action.SCHEDULED,
    "delete": Action.DELETED,
    "expire": Action.EXPIRED,
    "decline_coach": Action.DECLINED_BY_COACH,
    "decline_trainee": Action.DECLINED_BY_TRAINEE,
}


def _actions(session_id: int, expires_at):
    def user(username: str) -> User:
        return User.objects.get(username=username)

    def schedule() -> bool:
        services.session_schedule(
            actor=user("cora.coach"),
            session_id=session_id,
            starts_at=timezone.now() + timedelta(days=2),
            duration_minutes=30,
            allow_conflicts=True,  # every round takes the same hour
        )
        return True

    def delete() -> bool:
        services.session_delete(actor=user("sam.supervisor"), session_id=session_id)
        return True

    def expire() -> bool:
        return services.session_expire(session_id=session_id, now=expires_at + timedelta(seconds=1))

    def decline_coach() -> bool:
        services.session_decline(actor=user("carl.coach"), session_id=session_id, reason="busy")
        return True

    def decline_trainee() -> bool:
        services.session_decline(actor=user("alice.agent"), session_id=session_id, reason="away")
        return True

    return {
        "schedule": schedule,
        "delete": delete,
        "expire": expire,
        "decline_coach": decline_coach,
        "decline_trainee": decline_trainee,
    }


def test_one_winner_per_round(org):
    wins: Counter[str] = Counter()
    for _ in range(ROUNDS):
        s = suggest(
            org,
            coach=ref(org.coaching_team),
            trainees=[ref(org.alice)],
            expires_at=timezone.now() + timedelta(hours=1),
        )
        outcome = at_once(_actions(s.pk, s.expires_at))
        winners = [n for n, r in outcome.items() if r is True]
        assert len(winners) == 1, outcome
        winner = winners[0]
        wins[winner] += 1
        for name, result in outcome.items():
            if name == winner:
                continue
            if name == "expire":
                assert result is False, result
            else:
                assert isinstance(result, InvalidState), (name, result)
        s.refresh_from_db()
        assert s.state == (State.SCHEDULED if winner == "schedule" else State.CANCELED)
        assert s.version == 2
        transitions = list(
            SessionEvent.objects.filter(session=s)
            .exclude(action=Action.SUGGESTED)
            .values_list("action", flat=True)
        )
        assert transitions == [TRANSITIONS[winner]]
        kind, recipients = EXPECTED[winner]
        later = sorted(
            Notification.objects.filter(session=s)
            .exclude(kind__in=[Kind.SESSION_SUGGESTED, Kind.SESSION_INVITATION])
            .values_list("kind", "recipient__username")
        )
        assert later == [(kind, r) for r in recipients], winner
        invited = Notification.objects.filter(session=s, kind=Kind.SESSION_INVITATION)
        assert list(invited.values_list("recipient__username", flat=True)) == (
            ["alice.agent"] if winner == "schedule" else []
        )
    assert sum(wins.values()) == ROUNDS


def test_concurrent_sweeps_expire_each_once(org):
    start = timezone.now()
    ids = [suggest(org, title=f"s{i}", expires_at=start + timedelta(hours=1)).pk for i in range(20)]
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=30)
            call_command("sweep", stdout=io.StringIO())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    with time_machine.travel(start + timedelta(hours=2), tick=False):
        threads = [threading.Thread(target=sweep) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert CoachingSession.objects.filter(pk__in=ids, state=State.CANCELED).count() == 20
    assert SessionEvent.objects.filter(action=Action.EXPIRED).count() == 20
    assert Notification.objects.filter(kind=Kind.SESSION_EXPIRED).count() == 40
