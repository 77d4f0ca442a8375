"""Pages that must not fail: a stored time at the edge of what Python holds, a NUL in a search
box, a form sent after the sign-in ended."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone

from coaching.models import CoachingSession, State

from .conftest import HTMX, form_data

pytestmark = pytest.mark.django_db

EDGE = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)  # 10000-01-01 00:00 in Berlin: no such datetime


@pytest.fixture
def east(org: Any) -> Any:
    """Everyone who looks at the pages lives east of UTC."""
    from directory.models import User

    User.objects.update(time_zone="Europe/Berlin")
    return org


def test_a_stored_far_future_start_still_renders_every_page(as_user, east, suggest):
    org = east
    s = suggest(title="Far away", cases=[org.case1001])
    # A row written before the window was enforced (or by hand): the pages must still show it.
    CoachingSession.objects.filter(pk=s.pk).update(
        state=State.SCHEDULED,
        starts_at=EDGE,
        duration_minutes=30,
        scheduled_by=org.cora,
        scheduled_at=timezone.now(),
    )
    from coaching.models import Action, SessionEvent

    SessionEvent.objects.create(
        session=s,
        at=timezone.now(),
        actor=org.cora,
        actor_name="Cora Coach",
        action=Action.SCHEDULED,
        changes={"starts_at": EDGE.isoformat(), "duration_minutes": 30, "location": ""},
    )
    for user, url in [
        (org.cora, "/"),
        (org.sam, "/widgets/coaching/authored-past/"),  # scheduled: folded under the past ones
        (org.alice, "/"),
        (org.sam, f"/sessions/{s.pk}/"),
        (org.sam, f"/agents/{org.alice.pk}/"),
        (org.sam, f"/cases/{org.case1001.pk}/"),
    ]:
        response = as_user(user).get(url)
        assert response.status_code == 200, (user, url)
        assert "Far away" in response.text
    page = as_user(org.sam).get(f"/sessions/{s.pk}/").text
    assert "Dec 31, 9999" in page  # shown in UTC, the only calendar that has it


def test_a_stored_far_future_expiry_still_renders_and_opens_the_edit_form(as_user, east, suggest):
    org = east
    s = suggest(title="Never expires")
    CoachingSession.objects.filter(pk=s.pk).update(expires_at=EDGE)
    for url in ["/", f"/sessions/{s.pk}/", f"/agents/{org.alice.pk}/"]:
        assert as_user(org.sam).get(url).status_code == 200, url
        assert as_user(org.cora).get(url).status_code == 200, url
    form = as_user(org.sam).get(f"/sessions/{s.pk}/edit/", **HTMX)
    assert form.status_code == 200 and 'value="9999-12-31T23:00"' in form.text
    assert as_user(org.cora).get(f"/sessions/{s.pk}/schedule/", **HTMX).status_code == 200


def test_schedule_form_refuses_a_start_too_far_ahead(as_user, east, suggest):
    org = east
    s = suggest()
    data = {
        "title": s.title,
        "coach": f"user:{org.cora.pk}",
        "trainees": [f"user:{org.alice.pk}"],
        "coaching_area_id": str(s.coaching_area_id),
        "starts_at": "9999-12-31T23:00",
        "duration_minutes": "30",
    }
    r = as_user(org.cora).post(f"/sessions/{s.pk}/schedule/", data, **HTMX)
    assert r.status_code == 422
    assert "at most 24 months from now" in r.text
    s.refresh_from_db()
    assert s.state == State.SUGGESTED


@pytest.mark.parametrize(
    "url", ["/search/agents/", "/search/cases/", "/lookup/parties/", "/lookup/cases/"]
)
def test_nul_in_a_search_is_ignored_not_a_500(as_user, org, url):
    r = as_user(org.sam).get(url, {"q": "co\x00ra"}, **HTMX)
    assert r.status_code == 200
    if "parties" in url or "agents" in url:
        assert "Cora Coach" in r.text


def test_nul_in_a_form_field_is_an_error_next_to_it(as_user, org):
    r = as_user(org.sam).post("/sessions/new/", form_data(org, title="Bad\x00title"), **HTMX)
    assert r.status_code == 422 and "NUL character" in r.text
    assert not CoachingSession.objects.exists()


def test_htmx_request_after_the_sign_in_ended_goes_to_the_login_page(client, org):
    r = client.post(
        "/sessions/new/",
        form_data(org),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/agents/{org.alice.pk}/?tab=1",
    )
    assert r.status_code == 401 and r.content == b""
    assert r["HX-Redirect"] == f"/login/?next=/agents/{org.alice.pk}/%3Ftab%3D1"
    assert "coaching:login-required" in r["HX-Trigger"]
    foreign = client.get(
        "/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/phish"
    )
    assert foreign["HX-Redirect"] == "/login/?next=/"
    plain = client.get("/sessions/new/")
    assert plain.status_code == 302 and plain["Location"].startswith("/login/")
