"""Each page costs a pinned number of queries, the same with 2 sessions as with 12: a change that
adds a query per card, or one more per page, fails here and says which queries ran."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils.functional import SimpleLazyObject
from pytest_django import DjangoAssertNumQueries

from coaching import services
from coaching.models import CoachingSession
from coaching.rules import SessionFields
from core.middleware import UserTimezoneMiddleware
from directory.parties import PartyRef

pytestmark = pytest.mark.django_db

# (who, page, queries). Every request spends 2 on the session and the user, 1 on everything
# about the user the checks ask (permissions, roles, user groups: `load_viewer`) and 1 on the
# unread count in the header; the rest is the page's own (a homepage: the counts of all its
# sections in one query, a page of each, one query for what the cards show, and one for the
# invitation lists when a card shows a session that was given a time: none here; the schedule form: the free times; the edit and schedule forms: the duplicate
# warning's three (the trainee groups' members, the open sessions, who of them they hold); an
# agent's page: their completed sessions' effect).
PAGES = [
    ("sam", "/", 7),
    ("cora", "/", 7),
    ("alice", "/", 7),
    ("admin", "/", 5),
    ("nora", "/", 4),
    ("sam", "/agents/{alice}/", 13),
    ("alice", "/agents/{alice}/", 13),
    ("sam", "/cases/{case1001}/", 10),
    ("alice", "/cases/{case1001}/", 11),
    ("sam", "/sessions/{session}/", 7),
    ("sam", "/sessions/{session}/edit/", 12),
    ("cora", "/sessions/{session}/schedule/", 16),
    ("sam", "/sessions/new/", 5),
    ("sam", "/widgets/coaching/", 7),
    ("sam", "/widgets/coaching/?agent={alice}", 8),
    ("cora", "/notifications/", 6),
    ("sam", "/search/agents/?q=a", 6),
    ("sam", "/lookup/parties/?q=a", 6),
]


def suggestions(org: SimpleNamespace, n: int) -> list[CoachingSession]:
    """`n` suggestions with every kind of party: a coach user or a coach group, a trainee user and
    a trainee group, two reference cases; every one on Alice's and on CASE-1001's page."""
    return [
        services.session_suggest(
            actor=org.sam,
            fields=SessionFields(
                title=f"S{i}",
                coach=PartyRef.of(org.coaching_team if i % 2 else org.cora),
                trainees=[PartyRef.of(org.alice), PartyRef.of(org.tier1)],
                coaching_area_id=org.areas["Empathy"].pk,
                reference_case_ids=[org.case1001.pk, org.case1002.pk],
            ),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("sessions", [2, 12])
@pytest.mark.parametrize("who,path,expected", PAGES)
def test_page_query_count_is_pinned(
    org: SimpleNamespace,
    as_user: Callable[..., Client],
    django_assert_num_queries: DjangoAssertNumQueries,
    sessions: int,
    who: str,
    path: str,
    expected: int,
) -> None:
    first = suggestions(org, sessions)[0]
    url = path.format(alice=org.alice.pk, case1001=org.case1001.pk, session=first.pk)
    client = as_user(getattr(org, who))
    assert client.get(url).status_code == 200  # warms the process's caches
    with django_assert_num_queries(expected):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("signed_in", [True, False])
def test_views_get_the_user_itself_not_djangos_lazy_stand_in(org, signed_in):
    # A page reads the user hundreds of times; each read through SimpleLazyObject is a failed
    # attribute look-up and a proxy call (8-12% of a homepage's or the agent page's CPU).
    seen: list[object] = []

    def view(request):
        seen.append(request.user)
        return HttpResponse("ok")

    request = RequestFactory().get("/")
    who = org.sam if signed_in else AnonymousUser()
    request.user = SimpleLazyObject(lambda: who)
    assert UserTimezoneMiddleware(view)(request).status_code == 200
    assert type(seen[0]) is type(who)
    assert seen[0] is who
