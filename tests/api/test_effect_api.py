"""The 2026-12-01 data-driven coaching endpoints: similar sessions (the duplicate warning), a
session's effect, the coaching-effect report (JSON and CSV)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from coaching import services
from directory.parties import PartyRef
from tests.api.conftest import assert_problem, suggest
from tests.qa.effect_helpers import days, held, scores, series

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [s["id"] for s in json.loads(response.content)["items"]]


# --- similar -----------------------------------------------------------------------------------
def similar(client, trainee, area) -> list[int]:
    return ids(
        client.get(f"/coaching-sessions/similar?trainee={trainee.pk}&coaching_area_id={area.pk}")
    )


def test_similar_direct_through_group_and_not_closed_ones(org, as_user):
    empathy = org.areas["Empathy"]
    direct = suggest(org, title="Direct")  # Alice, Empathy, coach Cora
    via_group = suggest(org, title="Via Tier 1", trainees=[PartyRef.of(org.tier1)])
    suggest(org, title="Other area", coaching_area_id=org.areas["Compliance"].pk)
    deleted = suggest(org, title="Deleted")
    services.session_delete(actor=org.sam, session_id=deleted.pk)
    scheduled = suggest(org, title="Scheduled")
    services.session_schedule(
        actor=org.cora,
        session_id=scheduled.pk,
        starts_at=timezone.now() + timedelta(days=3),
        duration_minutes=30,
        allow_conflicts=True,
    )
    held(
        author=org.sam,
        coach=org.cora,
        trainees=[org.alice],
        area=empathy,
        starts_at=timezone.now() - timedelta(days=3),
        title="Completed",
    )
    sam = as_user("sam")
    # Scheduled first (by start), then suggestions by expiry.
    assert similar(sam, org.alice, empathy) == [scheduled.pk, direct.pk, via_group.pk]
    # Bob only through the group.
    assert similar(sam, org.bob, empathy) == [via_group.pk]
    assert similar(sam, org.dan, empathy) == []


def test_similar_lists_only_what_the_caller_may_see(org, as_user):
    own = suggest(org, title="Alice's")
    bobs = suggest(org, title="Bob's", trainees=[PartyRef.of(org.bob)])
    # Alice (an agent) sees her own session, not Bob's, even asking about Bob.
    assert similar(as_user("alice"), org.alice, org.areas["Empathy"]) == [own.pk]
    assert similar(as_user("alice"), org.bob, org.areas["Empathy"]) == []
    assert similar(as_user("sue"), org.bob, org.areas["Empathy"]) == [bobs.pk]
    # Several trainees at once (a group's members, as the form sends them).
    both = as_user("sue").get(
        f"/coaching-sessions/similar?trainee={org.alice.pk}&trainee={org.bob.pk}"
        f"&coaching_area_id={org.areas['Empathy'].pk}"
    )
    assert sorted(ids(both)) == sorted([own.pk, bobs.pk])


def test_similar_needs_its_parameters_and_view_suggestions(org, as_user):
    assert_problem(
        as_user("sam").get("/coaching-sessions/similar?trainee=1"), 422, "validation_failed"
    )
    assert (
        as_user(None).get("/coaching-sessions/similar?trainee=1&coaching_area_id=1").status_code
        == 401
    )


def test_a_duplicate_is_still_accepted(org, as_user):
    suggest(org)
    body = {
        "title": "Again",
        "coach": {"type": "user", "id": org.cora.pk},
        "trainees": [{"type": "user", "id": org.alice.pk}],
        "coaching_area_id": org.areas["Empathy"].pk,
    }
    assert as_user("sam").post("/coaching-sessions", body).status_code == 201


# --- a session's effect -------------------------------------------------------------------------
START = datetime(2026, 3, 10, 10, tzinfo=UTC)


@pytest.fixture
def coached(org):
    empathy = org.areas["Empathy"]
    session = held(
        author=org.sam, coach=org.cora, trainees=[org.tier1], area=empathy, starts_at=START
    )
    scores(org.alice, empathy, series(START - days(3), days(1), [60, 60, 60]))
    scores(org.alice, empathy, series(START + days(1), days(1), [75, 75, 75]))
    scores(org.bob, empathy, series(START + days(1), days(1), [80, 80]))
    return session


def test_effect_shape(org, as_user, coached):
    response = as_user("sam").get(f"/coaching-sessions/{coached.pk}/effect")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["coaching_area"] == {"id": org.areas["Empathy"].pk, "name": "Empathy"}
    assert body["window"] == 5
    items = {i["trainee"]["username"]: i for i in body["items"]}
    assert items["alice.agent"]["before"] == {"mean": 60.0, "n": 3}
    assert items["alice.agent"]["after"] == {"mean": 75.0, "n": 3}
    assert items["alice.agent"]["delta"] == 15.0
    assert items["bob.agent"] == {
        "trainee": items["bob.agent"]["trainee"],
        "before": {"mean": None, "n": 0},
        "after": {"mean": 80.0, "n": 2},
        "delta": None,
    }


def test_effect_for_an_agent_is_their_own_and_404_for_others(org, as_user, coached):
    body = json.loads(as_user("alice").get(f"/coaching-sessions/{coached.pk}/effect").content)
    assert [i["trainee"]["username"] for i in body["items"]] == ["alice.agent"]
    # Dan is no trainee: he may not see the session at all.
    assert_problem(as_user("dan").get(f"/coaching-sessions/{coached.pk}/effect"), 404, "not_found")
    assert_problem(as_user("sam").get("/coaching-sessions/999999/effect"), 404, "not_found")


def test_effect_of_an_open_suggestion_is_empty(org, as_user):
    s = suggest(org)
    body = json.loads(as_user("sam").get(f"/coaching-sessions/{s.pk}/effect").content)
    assert body["items"] == []


# --- the report ---------------------------------------------------------------------------------
REPORT = "/reports/coaching-effect?group_by={}&from=2026-03-01&to=2026-03-31"


@pytest.fixture
def march(org):
    empathy = org.areas["Empathy"]
    for agent, start, coach, (b, a) in [
        (org.alice, START, org.cora, (70, 80)),
        (org.bob, START + days(10), org.carl, (50, 70)),
    ]:
        held(author=org.sam, coach=coach, trainees=[agent], area=empathy, starts_at=start)
        scores(agent, empathy, series(start - days(3), days(1), [b] * 3))
        scores(agent, empathy, series(start + days(1), days(1), [a] * 3))
    reference = START + days(5)
    scores(org.dan, empathy, series(reference - days(3), days(1), [60] * 3))
    scores(org.dan, empathy, series(reference + days(1), days(1), [66] * 3))


def test_report_by_area(org, as_user, march):
    body = json.loads(as_user("sam").get(REPORT.format("coaching_area")).content)
    assert (body["group_by"], body["from"], body["to"]) == (
        "coaching_area",
        "2026-03-01",
        "2026-03-31",
    )
    (item,) = body["items"]
    assert item["key"] == {"id": org.areas["Empathy"].pk, "name": "Empathy"}
    assert (item["sessions"], item["trainees"], item["mean_delta"]) == (2, 2, 15.0)
    assert item["ci95"] == pytest.approx([15 - 63.53, 15 + 63.53])
    assert (item["baseline_mean_delta"], item["baseline_agents"]) == (pytest.approx(6), 1)


def test_report_by_coach(org, as_user, march):
    body = json.loads(as_user("admin").get(REPORT.format("coach")).content)
    rows = {i["key"]["name"]: i for i in body["items"]}
    assert rows["Carl Coach"]["key"]["id"] == org.carl.pk
    assert (rows["Carl Coach"]["mean_delta"], rows["Carl Coach"]["ci95"]) == (20.0, None)
    assert rows["Cora Coach"]["mean_delta"] == 10.0


def test_report_csv_by_accept_and_by_format(org, as_user, march):
    for response in (
        as_user("sam").get(REPORT.format("coaching_area"), headers={"Accept": "text/csv"}),
        as_user("sam").get(REPORT.format("coaching_area") + "&format=csv"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        header, row = list(csv.reader(io.StringIO(response.content.decode())))
        assert header == [
            "group_by",
            "key_id",
            "key_name",
            "sessions",
            "trainees",
            "mean_delta",
            "ci95_low",
            "ci95_high",
            "baseline_mean_delta",
            "baseline_agents",
        ]
        assert row[2:6] == ["Empathy", "2", "2", "15.0000"] and row[-1] == "1"


def test_report_empty_period_has_a_header_only(org, as_user, march):
    response = as_user("sam").get(
        "/reports/coaching-effect?from=2025-01-01&to=2025-01-31&format=csv"
    )
    assert response.content.decode().splitlines() == [
        "group_by,key_id,key_name,sessions,trainees,mean_delta,ci95_low,ci95_high,"
        "baseline_mean_delta,baseline_agents"
    ]


@pytest.mark.parametrize("who", ["cora", "alice", "audrey", "nora"])
def test_report_is_for_supervisors_and_qm_admins(org, as_user, who):
    assert_problem(as_user(who).get(REPORT.format("coach")), 403, "permission_denied")


def test_report_validates_its_period(org, as_user):
    sam = as_user("sam")
    assert_problem(
        sam.get("/reports/coaching-effect?from=2026-03-31&to=2026-03-01"), 422, "validation_failed"
    )
    assert_problem(
        sam.get("/reports/coaching-effect?from=2020-01-01&to=2026-03-01"), 422, "validation_failed"
    )
    assert_problem(sam.get("/reports/coaching-effect?group_by=team"), 422, "validation_failed")
    assert sam.get("/reports/coaching-effect").status_code == 200  # the last 90 days


def test_report_query_count_is_pinned(org, as_user, march, django_assert_num_queries):
    client = as_user("sam")
    client.get(REPORT.format("coach"))
    # the token with its user, the viewer's facts, the period's session starts, the coached side,
    # the baseline's agents and their windows: the same for any number of sessions, agents and
    # evaluations
    with django_assert_num_queries(6):
        assert client.get(REPORT.format("coach")).status_code == 200


@pytest.mark.parametrize("day", ["0", "1893456000", "2026-3-1", "01.03.2026"])
def test_report_days_are_iso_dates(org, as_user, day):
    """A day is YYYY-MM-DD: a number is not read as Unix seconds (it was: `?to=0` answered the
    days up to 1 January 1970)."""
    response = as_user("sam").get(f"/reports/coaching-effect?to={day}")
    assert response.status_code in (400, 422), response.content
    assert response["Content-Type"].startswith("application/problem+json")


def test_report_documents_its_csv(org, as_user):
    schema = as_user("sam").get("/openapi.json").json()
    ok = schema["paths"]["/api/v1/reports/coaching-effect"]["get"]["responses"]["200"]
    assert set(ok["content"]) == {"application/json", "text/csv"}
    similar = schema["paths"]["/api/v1/coaching-sessions/similar"]["get"]["parameters"]
    assert {p["name"]: p["schema"].get("maxItems") for p in similar}["trainee"] == 100
