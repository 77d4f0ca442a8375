"""The pages after scheduling without a browser: who gets which dialog, the clash shown with
"schedule anyway", a free time taken without JavaScript, and each dialog's refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from coaching import services
from coaching.models import CoachingSession, State
from coaching.rules import SessionFields
from directory.parties import PartyRef

from .conftest import HTMX

pytestmark = pytest.mark.django_db
NOW = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)  # Friday
START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def scheduled(org, title="Held", start=START, trainees=None) -> CoachingSession:
    s = services.session_suggest(
        actor=org.sam,
        fields=SessionFields(
            title=title,
            coach=PartyRef.of(org.cora),
            trainees=[PartyRef.of(t) for t in (trainees or [org.alice])],
            coaching_area_id=org.areas["Empathy"].pk,
        ),
    )
    return services.session_schedule(
        actor=org.cora, session_id=s.pk, starts_at=start, duration_minutes=60, allow_conflicts=True
    )


def test_only_the_coach_gets_the_reschedule_cancel_and_complete_dialogs(org, as_user):
    s = scheduled(org)
    for path in ("reschedule", "cancel"):
        assert as_user(org.cora).get(f"/sessions/{s.pk}/{path}/").status_code == 200
        assert as_user(org.alice).get(f"/sessions/{s.pk}/{path}/").status_code == 403
    assert as_user(org.admin).get(f"/sessions/{s.pk}/cancel/").status_code == 200
    assert as_user(org.cora).get(f"/sessions/{s.pk}/complete/").status_code == 409  # not started
    assert as_user(org.dan).get(f"/sessions/{s.pk}/cancel/").status_code == 404
    assert as_user(org.alice).get(f"/sessions/{s.pk}/acknowledge/").status_code == 409


def test_a_clash_is_shown_with_schedule_anyway(org, as_user):
    scheduled(org, "First")
    s = scheduled(org, "Second", start=START + timedelta(days=1))
    r = as_user(org.cora).post(
        f"/sessions/{s.pk}/reschedule/",
        {"starts_at": "2030-03-04T09:30", "duration_minutes": "30", "location": "Room 1"},
        **HTMX,
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert 'data-testid="conflicts"' in html and "“First”" in html
    assert 'name="allow_conflicts"' in html
    assert 'value="2030-03-04T09:30"' in html  # what was typed stays
    r = as_user(org.cora).post(
        f"/sessions/{s.pk}/reschedule/",
        {"starts_at": "2030-03-04T09:30", "duration_minutes": "30", "allow_conflicts": "1"},
        **HTMX,
    )
    assert r.status_code == 200 and "coaching:changed" in r["HX-Trigger"]
    s.refresh_from_db()
    assert s.starts_at == datetime(2030, 3, 4, 9, 30, tzinfo=UTC) and s.duration_minutes == 30


def test_a_free_time_is_taken_without_javascript(org, as_user):
    s = scheduled(org)
    page = as_user(org.cora).get(f"/sessions/{s.pk}/reschedule/").content.decode()
    # Cora is busy 09:00-10:00 on Monday only with this very session, which does not count.
    assert 'data-slot="2030-03-01T09:00"' in page  # the first time inside her hours
    r = as_user(org.cora).post(
        f"/sessions/{s.pk}/reschedule/",
        {"take_slot": "2030-03-05T11:15", "starts_at": "", "duration_minutes": "60"},
    )
    assert r.status_code == 200
    assert 'id="f-starts" name="starts_at" type="datetime-local" value="2030-03-05T11:15"' in (
        r.content.decode()
    )
    s.refresh_from_db()
    assert s.starts_at == START  # nothing moved yet


def test_schedule_form_offers_free_times_and_names_a_clash(org, as_user):
    scheduled(org, "First")
    s = services.session_suggest(
        actor=org.sam,
        fields=SessionFields(
            title="To schedule",
            coach=PartyRef.of(org.cora),
            trainees=[PartyRef.of(org.bob)],
            coaching_area_id=org.areas["Empathy"].pk,
        ),
    )
    form = as_user(org.cora).get(f"/sessions/{s.pk}/schedule/").content.decode()
    assert "Free times" in form and 'data-slot="2030-03-01T09:00"' in form
    data = {
        "title": "To schedule",
        "coach": f"user:{org.cora.pk}",
        "trainees": f"user:{org.bob.pk}",
        "coaching_area_id": str(org.areas["Empathy"].pk),
        "starts_at": "2030-03-04T09:15",
        "duration_minutes": "30",
    }
    r = as_user(org.cora).post(f"/sessions/{s.pk}/schedule/", data, **HTMX)
    assert r.status_code == 422 and "“First”" in r.content.decode()
    r = as_user(org.cora).post(
        f"/sessions/{s.pk}/schedule/", {**data, "allow_conflicts": "1"}, **HTMX
    )
    assert r.status_code == 200
    s.refresh_from_db()
    assert s.state == State.SCHEDULED


def test_complete_and_acknowledge_dialogs(org, as_user, clock):
    s = scheduled(org, trainees=[org.tier1])
    clock.move_to(START + timedelta(minutes=10))
    r = as_user(org.cora).post(f"/sessions/{s.pk}/complete/", {"notes": " ", "action_items": ""})
    assert r.status_code == 422 and "Enter the session&#x27;s notes." in r.content.decode()
    r = as_user(org.cora).post(
        f"/sessions/{s.pk}/complete/", {"notes": "Good talk", "action_items": "One\n\nTwo\n"}
    )
    assert r.status_code == 302
    s.refresh_from_db()
    assert s.action_items == ["One", "Two"]
    page = as_user(org.bob).get(f"/sessions/{s.pk}/acknowledge/").content.decode()
    assert "Good talk" in page
    r = as_user(org.bob).post(f"/sessions/{s.pk}/acknowledge/", {"comment": "x" * 1001})
    assert r.status_code == 422 and "it may have at most 1000" in r.content.decode()
    r = as_user(org.bob).post(f"/sessions/{s.pk}/acknowledge/", {"comment": "ok"})
    assert r.status_code == 302
    assert as_user(org.bob).post(f"/sessions/{s.pk}/acknowledge/", {}).status_code == 409
    detail = as_user(org.sue).get(f"/sessions/{s.pk}/").content.decode()
    assert "Good talk" not in detail and "Acknowledged" in detail


def test_homepages_list_upcoming_and_waiting_sessions(org, as_user, clock):
    s = scheduled(org, "With Alice")
    home = as_user(org.alice).get("/").content.decode()
    assert 'data-section="upcoming"' in home and "With Alice" in home
    assert 'data-section="acknowledge"' not in home
    coach = as_user(org.cora).get("/").content.decode()
    assert f"/sessions/{s.pk}/reschedule/" in coach and f"/sessions/{s.pk}/cancel/" in coach
    assert f"/sessions/{s.pk}/complete/" not in coach  # not started
    # The coach's session is under "Scheduled Coaching Sessions" once, not again as upcoming.
    assert coach.count(f'data-session-id="{s.pk}"') == 1
    assert 'data-section="coach-scheduled"' in coach and 'data-section="upcoming"' not in coach
    clock.move_to(START + timedelta(minutes=5))
    assert f"/sessions/{s.pk}/complete/" in as_user(org.cora).get("/").content.decode()
    services.session_complete(actor=org.cora, session_id=s.pk, notes="n")
    home = as_user(org.alice).get("/").content.decode()
    assert 'data-section="acknowledge"' in home and f"/sessions/{s.pk}/acknowledge/" in home
