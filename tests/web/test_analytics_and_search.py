"""Agent and Case Analytics, search pages and the form's typeahead lookups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coaching import services
from directory.models import Evaluation, User

from .conftest import HTMX

pytestmark = pytest.mark.django_db


def add_scores(org, agent, scores):
    now = timezone.now()
    for days_ago, area, score in scores:
        Evaluation.objects.create(
            case=org.case1001,
            agent=agent,
            coaching_area=org.areas[area],
            score=score,
            evaluated_at=now - timedelta(days=days_ago),
            evaluator=org.audrey,
        )


def test_agent_page_shows_identity_chart_cases_and_widget(as_user, org, suggest):
    add_scores(org, org.alice, [(30, "Empathy", 61), (10, "Empathy", 74), (5, "Compliance", 90)])
    s = suggest(title="On Alice's page")
    other = suggest(title="Only Bob", trainees=[org.bob])
    html = as_user(org.sam).get(f"/agents/{org.alice.pk}/").text
    assert "<h1>Alice Agent</h1>" in html and "alice.agent" in html and "Tier 1" in html
    assert '<svg class="chart-svg"' in html and 'role="img"' in html
    assert 'data-area="Empathy"' in html and 'data-area="Compliance"' in html
    assert "avg 68 · latest 74" in html  # Empathy: (61 + 74) / 2
    assert "CASE-1001" in html and "Billing dispute" in html
    assert "Coaching sessions for Alice Agent" in html
    assert "On Alice&#x27;s page" in html and f"/sessions/{s.pk}/edit/" in html
    assert "Only Bob" not in html and other.title not in html
    assert f"/sessions/new/?agent={org.alice.pk}" in html


def test_agent_page_recent_cases_group_scores_by_case_and_day(as_user, org):
    add_scores(org, org.alice, [(2, "Empathy", 55), (2, "Compliance", 88)])
    Evaluation.objects.create(
        agent=org.alice,
        coaching_area=org.areas["Call Handling"],
        score=77,
        evaluated_at=timezone.now() - timedelta(hours=1),
    )
    html = as_user(org.sam).get(f"/agents/{org.alice.pk}/").text
    table = html[html.index('id="recent-title"') :]
    rows = table.split("<tr>")[2:]  # after the header row
    assert '<th scope="row">No case</th>' in rows[0] and "Call Handling" in rows[0]
    assert f'href="/cases/{org.case1001.pk}/"' in rows[1] and "CASE-1001" in rows[1]
    assert '<span class="score score-low">55</span>' in rows[1]
    assert '<span class="score score-high">88</span>' in rows[1]  # one row: same case, same day
    assert len(rows) == 2


def test_agent_page_permissions(as_user, org, suggest):
    suggest(title="Alice's session")
    assert as_user(org.alice).get(f"/agents/{org.bob.pk}/").status_code == 403
    own = as_user(org.alice).get(f"/agents/{org.alice.pk}/")
    assert own.status_code == 200
    assert "Alice&#x27;s session" in own.text and "Suggest Session" not in own.text
    nora = as_user(org.nora).get(f"/agents/{org.alice.pk}/")
    assert nora.status_code == 403 and "View Analytics" in nora.text
    assert as_user(org.audrey).get(f"/agents/{org.alice.pk}/").status_code == 200
    assert as_user(org.sam).get("/agents/999999/").status_code == 404


def test_second_supervisor_sees_but_cannot_change(as_user, org, suggest):
    s = suggest(title="Sam's suggestion")
    html = as_user(org.sue).get(f"/agents/{org.alice.pk}/").text
    assert "Sam&#x27;s suggestion" in html
    assert f"/sessions/{s.pk}/edit/" not in html and f"/sessions/{s.pk}/delete/" not in html
    assert as_user(org.sue).get(f"/sessions/{s.pk}/edit/").status_code == 403
    assert as_user(org.sue).post(f"/sessions/{s.pk}/delete/").status_code == 403
    s.refresh_from_db()
    assert s.state == "suggested"


def test_case_page_shows_participants_evaluations_and_sessions(as_user, org, suggest):
    add_scores(org, org.alice, [(3, "Empathy", 66)])
    s = suggest(title="About the double charge", cases=[org.case1001])
    suggest(title="Not about this case")
    html = as_user(org.sam).get(f"/cases/{org.case1001.pk}/").text
    assert "<h1>CASE-1001</h1>" in html and "Billing dispute" in html
    for name in ("Alice Agent", "Bob Agent", "Audrey Auditor"):
        assert name in html
    assert "Auditor" in html and "66" in html
    assert "Coaching sessions referencing CASE-1001" in html
    assert "About the double charge" in html and "Not about this case" not in html
    assert f"/sessions/{s.pk}/" in html
    assert f"/sessions/new/?case={org.case1001.pk}" in html


def test_case_page_permissions(as_user, org):
    assert as_user(org.alice).get(f"/cases/{org.case1001.pk}/").status_code == 200
    assert as_user(org.alice).get(f"/cases/{org.case1002.pk}/").status_code == 403
    assert as_user(org.nora).get(f"/cases/{org.case1001.pk}/").status_code == 403
    assert as_user(org.cora).get(f"/cases/{org.case1002.pk}/").status_code == 200
    assert as_user(org.sam).get("/cases/999999/").status_code == 404


def test_agent_sees_no_canceled_suggestion_on_case_page(as_user, org, suggest):
    s = suggest(title="Declined early", cases=[org.case1001])
    services.session_decline(actor=org.cora, session_id=s.pk, reason="Not needed")
    assert "Declined early" not in as_user(org.alice).get(f"/cases/{org.case1001.pk}/").text
    assert "Declined early" in as_user(org.sam).get(f"/cases/{org.case1001.pk}/").text


def test_search_agents_and_cases(as_user, org):
    html = as_user(org.sam).get("/search/agents/?q=ali").text
    assert "Alice Agent" in html and "Bob Agent" not in html
    assert f'href="/agents/{org.alice.pk}/"' in html
    partial = as_user(org.sam).get("/search/agents/?q=bob", **HTMX)
    assert "<html" not in partial.text and "Bob Agent" in partial.text
    # Without View Analytics an agent finds only themselves.
    assert "Bob Agent" not in as_user(org.alice).get("/search/agents/?q=bob").text
    cases = as_user(org.sam).get("/search/cases/?q=1002").text
    assert "CASE-1002" in cases and "CASE-1001" not in cases
    by_subject = as_user(org.sam).get("/search/cases/?q=billing").text
    assert "CASE-1001" in by_subject
    assert "CASE-1002" not in as_user(org.alice).get("/search/cases/").text


def test_party_lookup_returns_limited_users_and_groups(as_user, org):
    for i in range(12):
        User.objects.create(username=f"coachling{i}", display_name=f"Coachling {i:02d}")
    html = as_user(org.sam).get("/lookup/parties/?q=coach", **HTMX).text
    assert html.count('role="option"') == 8 + 1  # 8 users at most, plus the group
    assert f'data-token="group:{org.coaching_team.pk}"' in html and "2 members" in html
    assert 'data-token="user:' in html
    assert as_user(org.sam).get("/lookup/parties/?q=").text.strip() == ""
    assert as_user(org.nora).get("/lookup/parties/?q=a").status_code == 403


def test_case_lookup_by_number_or_subject(as_user, org):
    by_number = as_user(org.sam).get("/lookup/cases/?q=1001").text
    assert f'data-token="{org.case1001.pk}"' in by_number and "CASE-1002" not in by_number
    by_subject = as_user(org.sam).get("/lookup/cases/?q=retention").text
    assert "CASE-1002" in by_subject


def test_score_chart_escapes_and_carries_every_score_in_its_table():
    """The chart is written in Python (`core.templatetags.ui`): each score is a marker with its
    label and a row of the table, the legend has each area's average and latest, and nothing an
    area's name holds becomes markup."""
    from core.templatetags.times import date_filter
    from core.templatetags.ui import score_chart

    now = timezone.now()
    first, second = now - timedelta(days=20), now - timedelta(days=2)
    html = score_chart({'<b>"Empathy"</b>': [(first, 64), (second, 90)], "Tone": [(second, 75)]})
    assert "<b>" not in html
    # the description, the series, the legend, two markers and two rows
    assert html.count("&lt;b&gt;&quot;Empathy&quot;&lt;/b&gt;") == 7
    assert html.count('<path class="chart-marker" d="M') == 3 + 2  # markers, then legend keys
    assert "avg 77 · latest 90" in html and "avg 75 · latest 75" in html
    assert f"<td>{date_filter(first, 'M j, Y')}</td><td>64</td>" in html
    assert html.count('<tr><th scope="row">') == 3
    assert "average 77, latest 90; Tone: average 75, latest 75</desc>" in html
    empty = score_chart({}, 30)
    assert "No evaluations in the last 30 days." in empty and "<svg" not in empty
