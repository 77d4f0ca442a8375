"""Real concurrency on PostgreSQL: several workers evaluate the same agents at the same instant
(new evaluations arrived twice, the daily sweep beside them); each agent gets one suggestion. A
rule that reaches an agent while a person's suggestion for them is being written waits for it
and skips the agent."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.db import connection, transaction

from coaching import services
from coaching.models import SessionTraineeUser, State
from directory.models import User, UserGroup, UserGroupMembership
from notifications.models import Kind, Notification
from qa import engine
from qa.models import AgentAreaLock

from ..domain.helpers import at_once, fields, ref, started, suggest
from .helpers import made_by_rules, rule, scores

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 5


def test_workers_evaluating_the_same_agents_at_once_make_one_suggestion_each(org, monkeypatch):
    # The check for an open session and the insert are a few milliseconds apart; a pause between
    # them (the real check, then a wait) makes the workers meet there every round, so without the
    # per-agent lock this test fails.
    check = engine.trainees_with_open_session

    def slow_check(**kw):
        found = check(**kw)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(engine, "trainees_with_open_session", slow_check)
    area = org.areas["Empathy"]
    agents = [
        User.objects.create(username=f"racer{i}", display_name=f"Racer {i}") for i in range(6)
    ]
    for a in agents:
        scores(a, area, [10, 20, 30])
    r = rule(org)
    ids = [a.pk for a in agents]
    for _ in range(ROUNDS):
        # Overlapping sets, in chunks of 2 so the workers interleave chunk by chunk.
        outcome = at_once(
            {
                "arrival": lambda: engine.run_rule(r.pk, ids, chunk=2).created,
                "arrival-again": lambda: engine.run_rule(r.pk, ids[2:], chunk=2).created,
                "sweep": lambda: engine.run_rule(r.pk, None, chunk=3).created,
                "single": lambda: engine.run_rule(r.pk, [ids[3]], chunk=1).created,
            }
        )
        assert all(isinstance(v, int) for v in outcome.values()), outcome
        assert sum(outcome.values()) == len(agents)
        open_now = made_by_rules(state=State.SUGGESTED)
        per_agent = Counter(
            SessionTraineeUser.objects.filter(session__in=open_now).values_list(
                "user_id", flat=True
            )
        )
        assert per_agent == dict.fromkeys(ids, 1)
        # The admin deletes them: the next round races again, on lock rows that now exist.
        for session in open_now:
            services.session_delete(actor=org.admin, session_id=session.pk)
    # The coach was told once per suggestion.
    assert Notification.objects.filter(kind=Kind.SESSION_SUGGESTED).count() == ROUNDS * len(agents)
    r.refresh_from_db()
    assert r.suggestions_created == ROUNDS * len(agents)


def test_two_sweepers_at_the_same_instant_take_each_rule_once(org):
    area = org.areas["Empathy"]
    rules = [rule(org, name=f"Rule {i}") for i in range(4)]
    scores(org.alice, area, [10, 10, 10])
    outcome = at_once({"one": engine.sweep_rules, "two": engine.sweep_rules})
    swept = [r.rule_id for results in outcome.values() for r in results]
    assert sorted(swept) == sorted(r.pk for r in rules)
    # The first rule to reach Alice made her suggestion; the others found it open.
    assert len(made_by_rules()) == 1


def pause_after_audit(monkeypatch: Any, thread: str) -> tuple[threading.Event, threading.Event]:
    """The thread of that name stops in its transaction once the session and its audit event are
    written (its locks held): `inside` is set then, and it goes on when `release` is."""
    inside, release = threading.Event(), threading.Event()
    record = services.audit.record

    def paused(*args: Any, **kw: Any) -> Any:
        written = record(*args, **kw)
        if threading.current_thread().name == thread:
            inside.set()
            release.wait(timeout=30)
        return written

    monkeypatch.setattr(services.audit, "record", paused)
    return inside, release


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize("how", ["suggest", "edit"])
def test_a_rule_waits_for_a_persons_suggestion_being_written_then_skips_the_agent(
    org, monkeypatch, how
):
    # Sam's suggestion for Alice (a new one, or his suggestion for Bob to which he adds her) is
    # written but not yet committed when a rule reaches her. The rule must wait for it and then
    # skip her; without the person's lock it saw no open session and made a second one.
    area = org.areas["Empathy"]
    scores(org.alice, area, [10, 20, 30])
    r = rule(org)
    if how == "suggest":
        act = lambda: suggest(org)  # noqa: E731
    else:
        for_bob = suggest(org, trainees=[ref(org.bob)])

        def act() -> Any:
            return services.session_edit(
                actor=org.sam,
                session_id=for_bob.pk,
                fields=fields(org, trainees=[ref(org.bob), ref(org.alice)]),
            )

    inside, release = pause_after_audit(monkeypatch, "person")
    outcome: dict[str, Any] = {}
    person = started("person", act, outcome)
    assert inside.wait(timeout=30), "the suggestion never reached its last step"
    worker = started("rule", lambda: engine.run_rule(r.pk, [org.alice.pk]), outcome)
    deadline = time.monotonic() + 30
    while worker.is_alive() and _lock_waiters() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    person.join(timeout=60)
    worker.join(timeout=60)

    made = outcome["person"]
    result = outcome["rule"]
    assert not isinstance(made, Exception), made
    assert not isinstance(result, Exception), result
    assert (result.firing, result.created, result.skipped) == (1, 0, 1)
    open_for_alice = SessionTraineeUser.objects.filter(
        user=org.alice,
        session__coaching_area=area,
        session__state__in=[State.SUGGESTED, State.SCHEDULED],
    ).values_list("session_id", flat=True)
    assert list(open_for_alice) == [made.pk]
    assert made_by_rules() == []


def test_two_people_suggesting_for_the_same_agent_do_not_wait_for_each_other(org, monkeypatch):
    # A person is warned of an open session, never refused: a second suggestion for Alice is
    # written while the first one is still open in its transaction (both hold her row shared).
    inside, release = pause_after_audit(monkeypatch, "first")
    outcome: dict[str, Any] = {}
    first = started("first", lambda: suggest(org), outcome)
    assert inside.wait(timeout=30), "the first suggestion never reached its last step"
    second = started("second", lambda: suggest(org, actor=org.sue), outcome)
    second.join(timeout=30)
    finished_meanwhile = not second.is_alive()
    release.set()
    first.join(timeout=60)
    second.join(timeout=60)
    assert finished_meanwhile, "the second suggestion waited for the first"
    assert not isinstance(outcome["first"], Exception), outcome["first"]
    assert not isinstance(outcome["second"], Exception), outcome["second"]
    assert SessionTraineeUser.objects.filter(user=org.alice).count() == 2


def _advisory_held() -> set[tuple[int, int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT classid::bigint, objid::bigint, mode FROM pg_locks"
            " WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        return {(int(a), int(b), str(m)) for a, b, m in cursor.fetchall()}


def test_a_persons_suggestion_holds_each_trainee_in_its_area_shared(org):
    # Every trainee user, directly or as an active member of a trainee group, in the session's
    # area, until the transaction ends; an edit that moves it to another area holds them there,
    # one that changes neither trainees nor area holds none.
    team = UserGroup.objects.create(name="Night shift")
    here, gone = User.objects.create(username="here"), User.objects.create(username="gone")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    UserGroupMembership.objects.bulk_create(
        [UserGroupMembership(group=team, user=u) for u in (here, gone)]
    )
    area = org.areas["Empathy"].pk
    other = next(a.pk for name, a in org.areas.items() if name != "Empathy")
    trainees = [ref(org.alice), ref(team)]
    with transaction.atomic():
        session = suggest(org, trainees=trainees)
        held = _advisory_held()
    assert held == {(area, org.alice.pk, "ShareLock"), (area, here.pk, "ShareLock")}
    assert _advisory_held() == set()  # released at commit
    edit = dict(title="Renamed", trainees=trainees, coaching_area_id=other)
    with transaction.atomic():
        services.session_edit(actor=org.sam, session_id=session.pk, fields=fields(org, **edit))
        held = _advisory_held()
    assert held == {(other, org.alice.pk, "ShareLock"), (other, here.pk, "ShareLock")}
    with transaction.atomic():
        again = fields(org, **{**edit, "title": "Again"})
        services.session_edit(actor=org.sam, session_id=session.pk, fields=again)
        held = _advisory_held()
    assert held == set()
    assert not AgentAreaLock.objects.exists()  # people write no lock rows
