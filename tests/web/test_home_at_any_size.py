"""The homepage at any size: each section shows its true count, what needs action first, a page
of cards, and the next ones on request; past items fold away. Its queries do not grow with the
number of sessions behind it."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from coaching import services
from coaching.widget import PAGE_SIZE

from .conftest import HTMX
from .test_home_and_session_pages import section


def titles(html: str) -> list[str]:
    return re.findall(r'<h4 id="s\d+-[\w-]+-title"><a href="/sessions/\d+/">([^<]+)</a>', html)


def test_coach_with_57_open_suggestions_sees_57_and_reaches_every_one(as_user, org, suggest):
    made = [suggest(title=f"Open {i:02}") for i in range(57)]
    cora = as_user(org.cora)
    coach = section(cora.get("/").text, "coach")
    assert 'aria-label="57 sessions">57<' in coach
    first = titles(coach)
    assert len(first) == PAGE_SIZE
    assert f"Show {PAGE_SIZE} more" in coach and f"{57 - PAGE_SIZE} not shown yet" in coach
    seen, offset = list(first), PAGE_SIZE
    while offset < 57:
        more = cora.get(f"/widgets/coaching/coach/?offset={offset}", **HTMX)
        assert more.status_code == 200 and "<html" not in more.text
        page = titles(more.text)
        assert page and len(page) <= PAGE_SIZE
        seen += page
        offset += len(page)
    assert sorted(seen) == sorted(s.title for s in made)  # every one, once
    assert (
        "Show"
        not in cora.get("/widgets/coaching/coach/?offset=50", **HTMX).text.split("</article>")[-1]
    )
    # Without JavaScript the "Show more" link opens a page of its own.
    page = cora.get(f"/widgets/coaching/coach/?offset={PAGE_SIZE}")
    assert "<html" in page.text and len(titles(page.text)) == PAGE_SIZE


def test_author_with_50_deleted_suggestions_sees_the_open_ones_first(as_user, org, suggest):
    for i in range(50):
        gone = suggest(title=f"Deleted {i:02}")
        services.session_delete(actor=org.sam, session_id=gone.pk)
    suggest(title="Still open A")
    suggest(title="Still open B")
    home = as_user(org.sam).get("/").text
    mine = section(home, "authored")
    assert 'aria-label="2 sessions">2<' in mine
    assert titles(mine) == ["Still open B", "Still open A"]
    past = section(home, "authored-past")
    assert "<details" in past and 'aria-label="50 sessions">50<' in past
    assert titles(past) == []  # folded: loaded when opened
    opened = as_user(org.sam).get("/widgets/coaching/authored-past/", **HTMX).text
    assert len(titles(opened)) == PAGE_SIZE and all(t.startswith("Deleted") for t in titles(opened))


def _home_queries(client) -> int:
    client.get("/")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/").status_code == 200
    return len(ctx.captured_queries)


def test_homepage_queries_do_not_grow_with_the_sessions(as_user, org, suggest):
    suggest(title="One", coach=org.coaching_team, trainees=[org.alice, org.tier1])
    clients = {p: as_user(getattr(org, p)) for p in ("sam", "cora", "alice")}
    few = {p: _home_queries(c) for p, c in clients.items()}
    for i in range(3 * PAGE_SIZE):
        s = suggest(
            title=f"More {i}",
            coach=org.coaching_team if i % 2 else org.cora,
            trainees=[org.alice, org.tier1],
            cases=[org.case1001],
        )
        if i % 3 == 0:
            services.session_delete(actor=org.sam, session_id=s.pk)
    many = {p: _home_queries(c) for p, c in clients.items()}
    assert many == few
    assert max(many.values()) <= 10
