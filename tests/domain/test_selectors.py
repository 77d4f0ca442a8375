"""Every list of decisions.md "Visibility", the 404-not-403 rule and the three prefills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from coaching import selectors
from coaching.models import Origin
from coaching.policies import access_session
from core.errors import NotFound
from directory.models import User
from directory.parties import PartyRef

from .helpers import fresh, ref, schedule, suggest


def pks(qs):
    return [s.pk for s in qs]


@pytest.fixture
def sessions(org):
    """A spread of sessions: open, scheduled, and canceled before scheduling."""
    now = timezone.now()
    return dict(
        direct=suggest(org, title="direct", expires_at=now + timedelta(days=20)),
        group_coach=suggest(
            org,
            title="group coach",
            coach=ref(org.coaching_team),
            trainees=[ref(org.tier1)],
            expires_at=now + timedelta(days=5),
            reference_case_ids=[org.case1001.pk],
        ),
        sue_carl=suggest(
            org,
            actor=org.sue,
            title="sue to carl",
            coach=ref(org.carl),
            trainees=[ref(org.dan)],
            expires_at=now + timedelta(days=10),
            reference_case_ids=[org.case1002.pk],
        ),
        scheduled=schedule(org.cora, suggest(org, title="scheduled", trainees=[ref(org.alice)])),
        canceled=_declined(org, suggest(org, title="canceled", trainees=[ref(org.alice)])),
    )


def _declined(org, s):
    from coaching import services

    return services.session_decline(actor=org.cora, session_id=s.pk, reason="no")


def test_authors_cards_newest_first(org, sessions):
    s = sessions
    assert pks(selectors.sessions_suggested_by(org.sam)) == [
        s["canceled"].pk,
        s["scheduled"].pk,
        s["group_coach"].pk,
        s["direct"].pk,
    ]
    assert pks(selectors.sessions_suggested_by(org.sue)) == [s["sue_carl"].pk]
    assert pks(selectors.sessions_suggested_by(org.nora)) == []


def test_coach_section_direct_and_through_groups_soonest_first(org, sessions):
    s = sessions
    assert pks(selectors.sessions_to_coach(org.cora)) == [s["group_coach"].pk, s["direct"].pk]
    assert pks(selectors.sessions_to_coach(org.carl)) == [s["group_coach"].pk, s["sue_carl"].pk]
    assert pks(selectors.sessions_to_coach(org.sam)) == []


def test_coach_section_follows_group_membership(org, sessions):
    from directory.models import UserGroupMembership

    UserGroupMembership.objects.filter(group=org.coaching_team, user=org.carl).delete()
    assert pks(selectors.sessions_to_coach(fresh(org.carl))) == [sessions["sue_carl"].pk]


def test_agent_page_direct_and_through_groups(org, sessions):
    s = sessions
    # A supervisor sees every session where Alice is a trainee, even the canceled one.
    assert pks(selectors.sessions_for_trainee(org.sam, org.alice)) == [
        s["canceled"].pk,
        s["scheduled"].pk,
        s["group_coach"].pk,
        s["direct"].pk,
    ]
    assert pks(selectors.sessions_for_trainee(org.sam, org.bob)) == [s["group_coach"].pk]
    assert pks(selectors.sessions_for_trainee(org.sam, org.dan)) == [s["sue_carl"].pk]
    assert pks(selectors.sessions_for_trainee(org.sam, org.cora)) == []


def test_agent_never_sees_suggestion_canceled_before_scheduled(org, sessions):
    s = sessions
    assert pks(selectors.sessions_for_trainee(org.alice, org.alice)) == [
        s["scheduled"].pk,
        s["group_coach"].pk,
        s["direct"].pk,
    ]
    with pytest.raises(NotFound):
        access_session(org.alice, s["canceled"].pk)
    assert access_session(org.alice, s["scheduled"].pk).pk == s["scheduled"].pk


def test_scheduled_then_visible_even_if_canceled_later(org):
    """Only a session canceled *before* scheduling is hidden; one that was scheduled stays."""
    from coaching.models import CoachingSession, State

    s = schedule(org.cora, suggest(org))
    CoachingSession.objects.filter(pk=s.pk).update(
        state=State.CANCELED, cancel_reason="declined_by_coach", canceled_at=timezone.now()
    )
    assert pks(selectors.sessions_for_trainee(org.alice, org.alice)) == [s.pk]


def test_case_page(org, sessions):
    s = sessions
    assert pks(selectors.sessions_for_case(org.sam, org.case1001)) == [s["group_coach"].pk]
    assert pks(selectors.sessions_for_case(org.sam, org.case1002)) == [s["sue_carl"].pk]
    # Dan took part in CASE-1002 and sees its session.
    assert pks(selectors.sessions_for_case(org.dan, org.case1002)) == [s["sue_carl"].pk]


def test_case_page_hides_canceled_suggestions_from_agents(org):
    from coaching import services

    s = suggest(org, trainees=[ref(org.dan)], reference_case_ids=[org.case1001.pk])
    services.session_delete(actor=org.sam, session_id=s.pk)
    assert pks(selectors.sessions_for_case(org.sam, org.case1001)) == [s.pk]
    assert pks(selectors.sessions_for_case(org.alice, org.case1001)) == []
    assert pks(selectors.sessions_for_case(org.bob, org.case1001)) == []


def test_visibility(org, sessions):
    s = sessions
    every = sorted(x.pk for x in s.values())
    for who in ("admin", "sue", "sam", "cora", "carl", "audrey"):
        assert sorted(pks(selectors.sessions_visible_to(getattr(org, who)))) == every, who
    assert pks(selectors.sessions_visible_to(org.nora)) == []
    assert sorted(pks(selectors.sessions_visible_to(org.alice))) == sorted(
        [s["direct"].pk, s["group_coach"].pk, s["scheduled"].pk]
    )
    assert sorted(pks(selectors.sessions_visible_to(org.bob))) == [s["group_coach"].pk]
    assert sorted(pks(selectors.sessions_visible_to(org.dan))) == [s["sue_carl"].pk]


def test_session_for_answers_404_never_403(org, sessions):
    s = sessions
    for who, sid in [
        ("nora", "direct"),
        ("dan", "direct"),
        ("bob", "direct"),
        ("alice", "sue_carl"),
    ]:
        with pytest.raises(NotFound):
            access_session(getattr(org, who), s[sid].pk)
    with pytest.raises(NotFound):
        access_session(org.sam, 999_999)
    assert access_session(org.sue, s["direct"].pk).title == "direct"


def test_inactive_viewer_sees_nothing(org, sessions):
    User.objects.filter(pk=org.cora.pk).update(is_active=False)
    assert pks(selectors.sessions_visible_to(fresh(org.cora))) == []


def test_state_filters(org, sessions):
    from coaching.models import CoachingSession

    s = sessions

    def of(state):
        return sorted(
            CoachingSession.objects.filter(selectors.state_q(state)).values_list("pk", flat=True)
        )

    assert of("suggested") == sorted([s["direct"].pk, s["group_coach"].pk, s["sue_carl"].pk])
    assert of("scheduled") == [s["scheduled"].pk]
    assert of("canceled") == [s["canceled"].pk]


def test_session_history(org, sessions):
    h = selectors.session_history(sessions["scheduled"])
    assert [(e.action, e.actor.username) for e in h] == [
        ("suggested", "sam.supervisor"),
        ("scheduled", "cora.coach"),
    ]


# --- prefill ----------------------------------------------------------------------------------
NOW = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)


def test_prefill_homepage(org):
    with time_machine.travel(NOW, tick=False):
        p = selectors.prefill_for_homepage(org.sam)
    assert (p.origin, p.trainees, p.reference_case_ids) == (Origin.HOMEPAGE, [], [])
    assert p.expires_at == datetime(2026, 4, 30, 23, 30, tzinfo=UTC)


def test_prefill_default_expiry_in_viewers_zone(org):
    User.objects.filter(pk=org.sam.pk).update(time_zone="Pacific/Auckland")
    with time_machine.travel(NOW, tick=False):
        p = selectors.prefill_for_homepage(fresh(org.sam))
    assert p.expires_at == datetime(2026, 5, 1, 0, 30, tzinfo=UTC)


def test_prefill_agent(org):
    p = selectors.prefill_for_agent(org.sam, org.alice)
    assert p.origin == Origin.AGENT_ANALYTICS
    assert p.trainees == [PartyRef("user", org.alice.pk)] and p.trainee_objects == [org.alice]
    assert p.reference_case_ids == []


def test_prefill_case_all_participants_and_the_case(org):
    p = selectors.prefill_for_case(org.sam, org.case1001)
    assert p.origin == Origin.CASE_ANALYTICS
    assert [u.username for u in p.trainee_objects] == ["alice.agent", "bob.agent", "audrey.auditor"]
    assert p.trainees == [ref(org.alice), ref(org.bob), ref(org.audrey)]
    assert p.reference_case_ids == [org.case1001.pk] and p.reference_cases == [org.case1001]
    p = selectors.prefill_for_case(org.sam, org.case1002)
    assert [u.username for u in p.trainee_objects] == ["dan.agent", "audrey.auditor"]


def test_prefill_is_a_valid_form(org):
    """Submitting the case prefill as is creates the suggestion with those trainees and case."""
    from coaching import services
    from coaching.rules import SessionFields

    p = selectors.prefill_for_case(org.sam, org.case1001)
    s = services.session_suggest(
        actor=org.sam,
        fields=SessionFields(
            title="From the case",
            coach=ref(org.cora),
            trainees=p.trainees,
            coaching_area_id=org.areas["Compliance"].pk,
            expires_at=p.expires_at,
            reference_case_ids=p.reference_case_ids,
        ),
        origin=p.origin,
    )
    assert s.origin == Origin.CASE_ANALYTICS
    assert set(s.trainee_users.all()) == {org.alice, org.bob, org.audrey}
    assert list(s.reference_cases.all()) == [org.case1001]


def test_lists_load_in_a_fixed_number_of_queries(org, django_assert_num_queries):
    """`with_related` loads what a list shows in two queries (the sessions; their trainee users
    and groups, cases, coach, area and people in one UNION ALL), and one more for the invitation
    lists once a session on the page was given a time: for 1 row or 6."""

    def load_page(viewer, agent):
        rows = list(selectors.with_related(selectors.sessions_for_trainee(viewer, agent)))
        for s in rows:
            _ = (s.coach_name, s.coaching_area.name, s.suggested_by_name, s.scheduled_by)
            _ = [u.display_name for u in s.trainee_users.all()]
            _ = [g.name for g in s.trainee_groups.all()]
            _ = [c.number for c in s.reference_cases.all()]
            _ = [a.user.display_name for a in s.attendees.all()]
        return rows

    first = suggest(org, reference_case_ids=[org.case1001.pk])
    sam, alice = fresh(org.sam), fresh(org.alice)
    load_page(sam, alice)  # the viewer's permissions, read once per request
    with django_assert_num_queries(2):
        assert len(load_page(sam, alice)) == 1
    for i in range(5):
        suggest(
            org,
            title=f"more {i}",
            coach=ref(org.coaching_team),
            trainees=[ref(org.alice), ref(org.tier1)],
            reference_case_ids=[org.case1001.pk, org.case1002.pk],
        )
    with django_assert_num_queries(2):
        assert len(load_page(sam, alice)) == 6
    schedule(org.cora, first)
    with django_assert_num_queries(3):
        rows = load_page(sam, alice)
    assert len(rows) == 6
    held = next(s for s in rows if s.pk == first.pk)
    assert [a.user for a in held.attendees.all()] == [org.cora, org.alice]
    assert held.scheduled_by == org.cora


@pytest.mark.postgres_only
def test_the_authors_open_count_is_answered_from_an_index_of_the_author(org):
    """The homepage counts the author's open suggestions on every view; a busy supervisor has
    thousands of sessions, so the count must come from an index of the author's sessions
    (`session_author_state`: author, state, expiry all in it) rather than from the table."""
    from django.db import connection

    from coaching.models import CoachingSession

    mine = suggest(org)
    # Many open suggestions by other authors, as in a contact center (with a handful of rows the
    # planner would pick any index, or none).
    values = {
        f.attname: getattr(mine, f.attname)
        for f in CoachingSession._meta.concrete_fields
        if not f.primary_key
    }
    CoachingSession.objects.bulk_create(
        CoachingSession(**{**values, "suggested_by_id": (org.sue, org.admin)[i % 2].pk})
        for i in range(3000)
    )
    qs = selectors.sessions_suggested_by_open(org.sam).order_by().values("pk")
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {CoachingSession._meta.db_table}")
        cursor.execute(f"EXPLAIN SELECT COUNT(*) FROM ({sql}) c", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # One of the author's indexes: `session_author_state` (index-only, what a vacuumed table at
    # scale uses: bench/RESULTS.md) or, for this one fresh row, `session_author_open`; never a
    # walk of the table.
    assert "session_author_state" in plan or "session_author_open" in plan, plan
    assert "Seq Scan" not in plan, plan
