"""A session's effect: the windows' edges, the minimum of three, who sees whose scores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test.utils import override_settings

from directory.models import User
from qa.effect import agent_session_effects, session_effect
from tests.qa.effect_helpers import days, held, scores, series

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # the session runs 10:00-11:00


@pytest.fixture
def session(org):
    return held(
        author=org.sam,
        coach=org.cora,
        trainees=[org.alice],
        area=org.areas["Empathy"],
        starts_at=START,
    )


def by_name(effects):
    return {e.trainee.username: e for e in effects}


def test_last_five_before_and_first_after(org, session):
    empathy = org.areas["Empathy"]
    # Six before: the oldest (10) falls out of the last five (mean 70).
    scores(org.alice, empathy, series(START - days(6), days(1), [10, 50, 60, 70, 80, 90]))
    # Exactly at the start, and during the session: on neither side.
    scores(org.alice, empathy, [(START, 0), (START + days(1) / 48, 0)])
    # Exactly at the completion: not after it either.
    scores(org.alice, empathy, [(session.completed_at, 0)])
    # Three after (mean 90), and a later sixth after that is beyond the first five.
    after = series(session.completed_at + days(1), days(1), [80, 90, 100])
    scores(org.alice, empathy, after)
    # Another area and another agent do not count.
    scores(org.alice, org.areas["Compliance"], series(START + days(1), days(1), [0, 0, 0]))
    scores(org.bob, empathy, series(START + days(1), days(1), [0, 0, 0]))

    (e,) = session_effect(session, org.sam)
    assert e.trainee == org.alice
    assert (e.before.n, e.before.mean) == (5, 70)
    assert (e.after.n, e.after.mean) == (3, 90)
    assert e.delta == pytest.approx(20)


def test_after_window_is_the_first_five(org, session):
    empathy = org.areas["Empathy"]
    scores(org.alice, empathy, series(START - days(3), days(1), [60, 60, 60]))
    scores(org.alice, empathy, series(START + days(1), days(1), [70, 70, 70, 70, 70, 0, 0]))
    (e,) = session_effect(session, org.sam)
    assert (e.after.n, e.after.mean, e.delta) == (5, 70, pytest.approx(10))


@override_settings(QA_EFFECT_WINDOW=3)
def test_window_is_a_setting(org, session):
    empathy = org.areas["Empathy"]
    scores(org.alice, empathy, series(START - days(5), days(1), [0, 0, 60, 60, 60]))
    scores(org.alice, empathy, series(START + days(1), days(1), [90, 90, 90, 0]))
    (e,) = session_effect(session, org.sam)
    assert (e.before.n, e.before.mean, e.after.n, e.after.mean) == (3, 60, 3, 90)


def test_fewer_than_three_on_a_side_is_no_change(org, session):
    empathy = org.areas["Empathy"]
    scores(org.alice, empathy, series(START - days(5), days(1), [60, 60, 60, 60]))
    scores(org.alice, empathy, series(START + days(1), days(1), [90, 90]))
    (e,) = session_effect(session, org.sam)
    assert (e.before.n, e.after.n, e.after.mean) == (4, 2, 90)
    assert e.delta is None


def test_no_evaluations_at_all(org, session):
    (e,) = session_effect(session, org.sam)
    assert (e.before.n, e.before.mean, e.after.n, e.after.mean, e.delta) == (0, None, 0, None, None)


def test_group_trainees_and_who_sees_whose_scores(org):
    empathy = org.areas["Empathy"]
    session = held(
        author=org.sam, coach=org.cora, trainees=[org.tier1], area=empathy, starts_at=START
    )
    for agent, (b, a) in {org.alice: (60, 75), org.bob: (70, 70)}.items():
        scores(agent, empathy, series(START - days(3), days(1), [b] * 3))
        scores(agent, empathy, series(START + days(1), days(1), [a] * 3))
    seen = by_name(session_effect(session, org.sam))
    assert {k: v.delta for k, v in seen.items()} == {"alice.agent": 15, "bob.agent": 0}
    # An agent (no View Analytics) sees only their own scores.
    assert list(by_name(session_effect(session, org.alice))) == ["alice.agent"]


def test_not_completed_has_no_effect(org):
    from tests.domain.helpers import suggest

    assert session_effect(suggest(org), org.sam) == []


def test_agent_page_lists_completed_sessions_with_their_change(org, session):
    empathy = org.areas["Empathy"]
    scores(org.alice, empathy, series(START - days(3), days(1), [60, 60, 60]))
    scores(org.alice, empathy, series(START + days(1), days(1), [66, 66, 66]))
    later = held(
        author=org.sam,
        coach=org.carl,
        trainees=[org.alice, org.bob],
        area=org.areas["Compliance"],
        starts_at=START + days(20),
        title="Later",
    )
    (first, second) = agent_session_effects(org.sam, org.alice)
    assert (first.session_id, first.delta, first.coaching_area) == (later.pk, None, "Compliance")
    assert (second.session_id, second.delta) == (session.pk, pytest.approx(6))
    assert agent_session_effects(org.sam, org.dan) == []
    # An agent sees their own.
    assert [e.session_id for e in agent_session_effects(org.alice, org.alice)] == [
        later.pk,
        session.pk,
    ]


def test_agent_page_sessions_bind_from_their_compiled_shape(org, session):
    """`AGENT_HELD` is compiled once per kind of viewer and bound per request: for every kind of
    viewer it binds from the compiled statement (a derived value would make it refuse), and its
    rows are those of the queryset built for the request."""
    from django.utils import timezone

    from coaching.selectors import sessions_visible_to
    from directory.permissions import load_viewer
    from qa.effect import AGENT_HELD, AGENT_WINDOWS, refresh_effect_windows
    from qa.models import EffectWindow

    scores(org.alice, org.areas["Empathy"], series(START - days(3), days(1), [60, 70]))
    refresh_effect_windows(
        session_ids=[session.pk]
    )  # Alice's completed session gets its stored pair
    now = timezone.now()
    windows_seen = 0
    for person in (org.sam, org.sue, org.carl, org.alice, org.audrey, org.nora):
        viewer = User.objects.get(pk=person.pk)
        load_viewer(viewer)
        for agent in (org.alice, org.bob, org.dan):
            bound = AGENT_HELD.bind(
                viewer=viewer, ids={"agent": ("user", agent.pk)}, times={"now": now}
            )
            expected = list(
                sessions_visible_to(viewer, now)
                .filter(state="completed", attendees__user=agent, attendees__role="trainee")
                .order_by("-starts_at", "-id")
                .values_list("pk", flat=True)
            )
            if bound.empty:
                assert expected == []
                continue
            assert bound.cached, (person.username, agent.username)
            assert [s.pk for s in bound.rows(limit=20, offset=0)] == expected
            windows = AGENT_WINDOWS.bind(
                viewer=viewer,
                ids={"agent": ("user", agent.pk)},
                times={"now": now},
                options={"limit": 20},
            )
            assert windows.cached
            assert sorted(w.pk for w in windows.all()) == sorted(
                EffectWindow.objects.filter(agent=agent, session_id__in=expected[:20]).values_list(
                    "pk", flat=True
                )
            )
            windows_seen += len(windows.all())
    assert windows_seen >= 1  # Alice's completed session has its stored pair
    assert [e.session_id for e in agent_session_effects(org.sam, org.alice)] == [session.pk]
