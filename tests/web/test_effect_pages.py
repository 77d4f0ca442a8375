"""The pages of data-driven coaching: the duplicate warning in the suggestion form, a session's
effect on its page and on the agent's page, the coaching-effect report."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coaching import services
from coaching.models import CoachingSession
from directory.models import User, UserGroup, UserGroupMembership
from tests.qa.effect_helpers import days, held, scores, series
from tests.web.conftest import HTMX, form_data

pytestmark = pytest.mark.django_db


def warning(client, *tokens, area, exclude=None) -> str:
    query = "&".join(f"trainees={t}" for t in tokens) + f"&coaching_area_id={area.pk}"
    if exclude:
        query += f"&exclude={exclude}"
    response = client.get(f"/sessions/similar/?{query}", **HTMX)
    assert response.status_code == 200
    return text_of(response.text)


def text_of(page: str) -> str:
    """The words of `page`, tags dropped (a link's text stays), spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split()).replace(" :", ":")


# --- the duplicate warning ----------------------------------------------------------------------
def test_warning_names_the_person_area_and_session(org, as_user, suggest):
    s = suggest(title="Refund calls")
    starts = (timezone.now() + timedelta(days=10)).replace(hour=10, minute=0)
    services.session_schedule(
        actor=org.cora,
        session_id=s.pk,
        starts_at=starts,
        duration_minutes=30,
        allow_conflicts=True,
    )
    text = warning(as_user(org.sam), f"user:{org.alice.pk}", area=org.areas["Empathy"])
    assert "Alice Agent already has an open session in Empathy: Refund calls" in text
    assert f"(scheduled {starts.day} {starts:%b})" in text
    raw = as_user(org.sam).get(
        f"/sessions/similar/?trainees=user:{org.alice.pk}&coaching_area_id={org.areas['Empathy'].pk}"
    )
    assert f'href="/sessions/{s.pk}/"' in raw.text
    assert "You can still go ahead." in text


def test_no_warning_when_none(org, as_user, suggest):
    suggest()
    client = as_user(org.sam)
    assert warning(client, f"user:{org.dan.pk}", area=org.areas["Empathy"]) == ""
    assert warning(client, f"user:{org.alice.pk}", area=org.areas["Compliance"]) == ""
    assert client.get("/sessions/similar/?trainees=user:1", **HTMX).text.strip() == ""


def test_a_trainee_group_in_the_form_expands_to_its_members(org, as_user, suggest):
    suggest(title="Alice alone")
    text = warning(as_user(org.sam), f"group:{org.tier1.pk}", area=org.areas["Empathy"])
    assert "Alice Agent already has an open session in Empathy: Alice alone" in text
    assert "suggested, expires" in text


def test_an_existing_group_session_is_named_by_its_group(org, as_user, suggest):
    suggest(title="Tier 1 refresher", trainees=[org.tier1])
    text = warning(as_user(org.sam), f"user:{org.bob.pk}", area=org.areas["Empathy"])
    assert "Tier 1 (group) already has an open session in Empathy: Tier 1 refresher" in text


def test_the_edited_session_is_not_its_own_duplicate(org, as_user, suggest):
    first, _ = suggest(title="First"), suggest(title="Second")
    client = as_user(org.sam)
    text = warning(client, f"user:{org.alice.pk}", area=org.areas["Empathy"], exclude=first.pk)
    assert "Second" in text and "First" not in text
    # The edit form shows the other one, server-side, in the live region.
    page = client.get(f"/sessions/{first.pk}/edit/").text
    region = page[page.index('<div id="f-similar"') : page.index('id="f-cases"')]
    assert 'aria-live="polite"' in region and 'role="alert"' not in region
    assert ": Second" in text_of(region) and ": First" not in text_of(region)


def test_the_form_carries_the_live_region_on_every_entry_point(org, as_user):
    client = as_user(org.sam)
    for url in (
        "/sessions/new/",
        f"/sessions/new/?agent={org.alice.pk}",
        f"/sessions/new/?case={org.case1001.pk}",
    ):
        page = client.get(url, **HTMX).text
        assert 'id="f-similar" aria-live="polite"' in page
        assert "picker:trainees-changed" in page
        assert "data-similar" not in page  # no area chosen yet: no warning


def test_a_duplicate_still_saves(org, as_user, suggest):
    suggest()
    response = as_user(org.sam).post("/sessions/new/", form_data(org, title="Again"), **HTMX)
    assert response.status_code == 204 or response.status_code == 200
    assert CoachingSession.objects.filter(title="Again").exists()


def test_the_warning_shows_only_what_the_viewer_may_see(org, as_user, suggest):
    suggest(title="Bob's", trainees=[org.bob])
    # Alice (an agent) asking about Bob sees nothing of Bob's session.
    assert warning(as_user(org.alice), f"user:{org.bob.pk}", area=org.areas["Empathy"]) == ""


def test_the_warning_costs_the_same_for_a_500_member_group(org, as_user, suggest):
    def group_of(n: int, name: str) -> UserGroup:
        users = User.objects.bulk_create(
            User(username=f"{name}-{i}", display_name=f"{name} {i}") for i in range(n)
        )
        group = UserGroup.objects.create(name=name)
        UserGroupMembership.objects.bulk_create(
            UserGroupMembership(group=group, user=u) for u in users
        )
        return group

    small, big = group_of(5, "small"), group_of(500, "big")
    for group in (small, big):
        for i in range(3):
            suggest(title=f"{group.name} {i}", trainees=[group])
    client = as_user(org.sam)
    counts = []
    for group in (small, big):
        warning(client, f"group:{group.pk}", area=org.areas["Empathy"])  # warm
        with CaptureQueriesContext(connection) as ctx:
            text = warning(client, f"group:{group.pk}", area=org.areas["Empathy"])
        assert f"{group.name} (group) already has an open session" in text
        counts.append(len(ctx.captured_queries))
    # the same for 5 members as for 500: the request's own (session, user, viewer facts, unread
    # count) and the warning's (the groups' members, the open sessions, who of them they hold)
    assert counts[0] == counts[1] == 7


# --- a session's effect and the agent's page ----------------------------------------------------
START = datetime(2026, 3, 10, 10, tzinfo=UTC)


@pytest.fixture
def coached(org):
    empathy = org.areas["Empathy"]
    session = held(
        author=org.sam, coach=org.cora, trainees=[org.tier1], area=empathy, starts_at=START
    )
    case = org.case1001  # the agent's page lists evaluations by case
    scores(org.alice, empathy, series(START - days(3), days(1), [60, 60, 60]), case=case)
    scores(org.alice, empathy, series(START + days(1), days(1), [72, 72, 72]), case=case)
    scores(org.bob, empathy, series(START + days(1), days(1), [80]), case=case)
    scores(org.dan, empathy, series(START - days(3), days(1), [50, 50, 50]), case=case)  # baseline
    scores(org.dan, empathy, series(START + days(1), days(1), [53, 53, 53]), case=case)
    return session


def test_session_page_shows_the_effect_table(org, as_user, coached):
    page = html.unescape(as_user(org.sam).get(f"/sessions/{coached.pk}/").text)
    section = page[page.index('data-testid="effect"') :]
    assert "<caption" in section and 'scope="col">Change' in section
    assert "60.0" in section and "72.0" in section and "+12.0" in section
    assert "up 12.0 points" in section  # the words a screen reader hears
    assert "Not enough evaluations yet" in section  # Bob
    # Alice sees her own row only.
    own = html.unescape(as_user(org.alice).get(f"/sessions/{coached.pk}/").text)
    own = own[own.index('data-testid="effect"') :]
    assert "Alice Agent" in own and "Bob Agent</th>" not in own


def test_agent_page_lists_the_completed_sessions_with_their_change(org, as_user, coached):
    page = html.unescape(as_user(org.sam).get(f"/agents/{org.alice.pk}/").text)
    section = page[page.index('data-testid="agent-effects"') :]
    assert f'href="/sessions/{coached.pk}/"' in section and "+12.0" in section
    assert (
        "No completed coaching sessions yet." in as_user(org.sam).get(f"/agents/{org.dan.pk}/").text
    )


# --- the report page ----------------------------------------------------------------------------
def test_report_page_for_supervisors_and_qm_admins(org, as_user, coached):
    url = "/reports/coaching-effect/?from=2026-03-01&to=2026-03-31&group_by=coach"
    for who in (org.sam, org.admin):
        page = as_user(who).get(url)
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert 'href="/reports/coaching-effect/" aria-current="page">Reports' in text
        assert "<svg" in text and 'role="img"' in text
        assert "<caption>" in text and 'scope="row">Cora Coach' in text
        assert "Cora Coach: mean change +12.0" in text  # the chart's own description
        assert "/api/v1/reports/coaching-effect?group_by=coach&amp;from=2026-03-01" in page.text
        assert "format=csv" in page.text
    for who in (org.cora, org.alice, org.audrey):
        assert as_user(who).get(url).status_code == 403
        assert "/reports/coaching-effect/" not in as_user(who).get("/").text


def test_report_page_empty_state_and_bad_dates(org, as_user, coached):
    client = as_user(org.sam)
    empty = client.get("/reports/coaching-effect/?from=2025-01-01&to=2025-01-31")
    assert 'data-testid="effect-empty"' in empty.text and 'role="img"' not in empty.text
    bad = client.get("/reports/coaching-effect/?from=yesterday")
    assert bad.status_code == 200 and "Enter the dates as year-month-day" in bad.text
    backwards = client.get("/reports/coaching-effect/?from=2026-03-31&to=2026-03-01")
    assert "is after" in html.unescape(backwards.text)


def test_report_page_query_count_is_pinned(org, as_user, coached, django_assert_num_queries):
    client = as_user(org.sam)
    url = "/reports/coaching-effect/?from=2026-03-01&to=2026-03-31&group_by=coaching_area"
    client.get(url)
    # session, user, viewer facts, unread count; the starts, the coached side, the baseline's
    # agents and their windows
    with django_assert_num_queries(8):
        assert client.get(url).status_code == 200


def test_demo_like_recent_period_defaults_to_90_days(org, as_user):
    now = timezone.now()
    page = as_user(org.sam).get("/reports/coaching-effect/")
    assert f'value="{(now - timedelta(days=89)).date().isoformat()}"' in page.text
