"""The suggestion form (suggest, edit, schedule) and the decline / delete dialogs."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from coaching.forms import to_local_input
from coaching.models import CancelReason, CoachingSession, Origin, State
from core.timeutils import default_expiry, zone
from directory.models import CaseParticipant, ParticipantRole, User
from directory.permissions import Perm
from notifications.models import Notification

from .conftest import HTMX, form_data

pytestmark = pytest.mark.django_db


def field_error(html: str, field_id: str) -> str:
    """The text of the error shown under one field (its `<div id="...-error">`)."""
    match = re.search(rf'<div class="field-error" id="{field_id}-error">(.*?)</div>', html, re.S)
    assert match, f"no error shown for {field_id}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_form_is_a_partial_for_htmx_and_a_page_without(as_user, org):
    client = as_user(org.sam)
    partial = client.get("/sessions/new/", **HTMX)
    assert partial.status_code == 200
    assert "<html" not in partial.text and 'id="session-form"' in partial.text
    page = client.get("/sessions/new/")
    assert "<html" in page.text and 'id="session-form"' in page.text
    for label in ("Title", "Coach", "Trainees", "Coaching Areas", "Expiry Time", "Reference Cases"):
        assert f">{label} <span" in partial.text
    assert 'role="combobox"' in partial.text and 'aria-autocomplete="list"' in partial.text


def test_expiry_is_prefilled_three_months_ahead_in_the_users_zone(as_user, org):
    org.sam.time_zone = "America/New_York"
    org.sam.save()
    html = as_user(org.sam).get("/sessions/new/", **HTMX).text
    value = re.search(r'name="expires_at" type="datetime-local" value="([^"]+)"', html).group(1)
    expected = default_expiry(tz_name="America/New_York").astimezone(zone("America/New_York"))
    shown = datetime.fromisoformat(value)
    assert abs(shown - expected.replace(tzinfo=None, second=0, microsecond=0)) <= timedelta(
        minutes=1
    )
    assert "(America/New_York)" in html


def test_datetime_input_is_read_in_the_users_zone(as_user, org):
    org.sam.time_zone = "Asia/Tokyo"
    org.sam.save()
    local = (timezone.now() + timedelta(days=10)).astimezone(zone("Asia/Tokyo"))
    typed = local.strftime("%Y-%m-%dT%H:%M")
    response = as_user(org.sam).post("/sessions/new/", form_data(org, expires_at=typed), **HTMX)
    assert response.status_code == 200
    s = CoachingSession.objects.get()
    assert s.expires_at == local.replace(second=0, microsecond=0)
    assert to_local_input(s.expires_at, "Asia/Tokyo") == typed


def test_agent_and_case_prefill(as_user, org):
    client = as_user(org.sam)
    agent = client.get(f"/sessions/new/?agent={org.alice.pk}", **HTMX).text
    assert f'value="user:{org.alice.pk}"' in agent and 'value="agent_analytics"' in agent
    case = client.get(f"/sessions/new/?case={org.case1001.pk}", **HTMX).text
    for person in (org.alice, org.bob, org.audrey):
        assert f'name="trainees" value="user:{person.pk}"' in case
    assert f'name="reference_case_ids" value="{org.case1001.pk}"' in case
    assert 'value="case_analytics"' in case


@pytest.fixture
def author_without_analytics(org):
    """Pat may suggest sessions but not open other people's analytics pages: Create and View
    Suggestions, no View Analytics; an agent on CASE-1002."""
    pat = User.objects.create_user("pat.author", password="x", display_name="Pat Author")
    pat.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="coaching",
            codename__in=[Perm.VIEW_SUGGESTIONS, Perm.CREATE_SUGGESTIONS],
        )
    )
    CaseParticipant.objects.create(case=org.case1002, user=pat, role=ParticipantRole.AGENT)
    return pat


@pytest.mark.parametrize("htmx", [False, True])
def test_prefill_needs_the_analytics_page_it_comes_from(
    as_user, org, author_without_analytics, htmx
):
    """The form prefilled from an agent's or a case's page shows that agent or that case's people:
    whoever may not open that page may not have it prefilled either (as the API's prefill)."""
    client = as_user(author_without_analytics)
    headers = HTMX if htmx else {}
    for query in (f"agent={org.alice.pk}", f"case={org.case1001.pk}"):
        refused = client.get(f"/sessions/new/?{query}", **headers)
        assert refused.status_code == 403, query
        assert "View Analytics" in refused.text
        assert "Alice Agent" not in refused.text and "Bob Agent" not in refused.text
    own = client.get(f"/sessions/new/?agent={author_without_analytics.pk}", **headers)
    assert own.status_code == 200
    assert f'value="user:{author_without_analytics.pk}"' in own.text
    own_case = client.get(f"/sessions/new/?case={org.case1002.pk}", **headers)
    assert own_case.status_code == 200 and f'value="user:{org.dan.pk}"' in own_case.text


def test_suggest_with_htmx_creates_notifies_and_triggers_refresh(as_user, org):
    data = form_data(org, trainees=[f"user:{org.alice.pk}", f"group:{org.tier1.pk}"])
    data["reference_case_ids"] = [str(org.case1001.pk)]
    data["origin"] = Origin.CASE_ANALYTICS
    response = as_user(org.sam).post("/sessions/new/", data, **HTMX)
    assert response.status_code == 200
    event = json.loads(response["HX-Trigger"])["coaching:changed"]
    s = CoachingSession.objects.get()
    assert event["url"] == f"/sessions/{s.pk}/"
    assert (s.title, s.state, s.origin, s.coach_user) == (
        "Empathy on refunds",
        State.SUGGESTED,
        Origin.CASE_ANALYTICS,
        org.cora,
    )
    assert list(s.trainee_users.all()) == [org.alice] and list(s.trainee_groups.all()) == [
        org.tier1
    ]
    assert list(s.reference_cases.all()) == [org.case1001]
    assert Notification.objects.get(recipient=org.cora).message == (
        "Sam Supervisor suggested a coaching session."
    )


def test_suggest_without_javascript_redirects(as_user, org):
    response = as_user(org.sam).post("/sessions/new/", {**form_data(org), "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert CoachingSession.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field_id", "message"),
    [
        ({"title": "  "}, "f-title", "Enter a title."),
        ({"title": "x" * 201}, "f-title", "at most 200"),
        ({"coach": ""}, "f-coach", "Pick a coach"),
        ({"trainees": []}, "f-trainees", "Pick at least one trainee."),
        ({"coaching_area_id": ""}, "f-area", "Pick a coaching area."),
        ({"expires_at": ""}, "f-expires", "Enter an expiry time."),
        ({"expires_at": "2001-01-01T10:00"}, "f-expires", "must be in the future"),
        ({"expires_at": "2999-01-01T10:00"}, "f-expires", "at most 12 months"),
        ({"coach": "SAM"}, "f-coach", "cannot also be its coach"),
        ({"trainees": ["SAM"]}, "f-trainees", "cannot also be a trainee"),
        ({"trainees": ["CORA"]}, "f-trainees", "cannot be both the coach and a trainee"),
        ({"coach": "SAM_ONLY"}, "f-coach", "The group Sam Only has only Sam Supervisor"),
        ({"trainees": ["SAM_ONLY"]}, "f-trainees", "The group Sam Only has only Sam Supervisor"),
        ({"coach": "EMPTY"}, "f-coach", "The group Empty Group has no active members."),
        ({"trainees": ["EMPTY"]}, "f-trainees", "has no active members"),
    ],
)
def test_each_error_is_shown_next_to_its_field(as_user, org, overrides, field_id, message):
    tokens = {
        "SAM": f"user:{org.sam.pk}",
        "CORA": f"user:{org.cora.pk}",
        "SAM_ONLY": f"group:{org.sam_only.pk}",
        "EMPTY": f"group:{org.empty_group.pk}",
    }

    def resolve(v):
        if isinstance(v, list):
            return [tokens.get(x, x) for x in v]
        return tokens.get(v, v)

    data = form_data(
        org, **{"title": "Kept as typed", **{k: resolve(v) for k, v in overrides.items()}}
    )
    response = as_user(org.sam).post("/sessions/new/", data, **HTMX)
    assert response.status_code == 422
    assert "<html" not in response.text
    assert message in field_error(response.text, field_id)
    assert 'aria-invalid="true"' in response.text
    assert 'role="alert"' in response.text
    if "title" not in overrides:
        assert 'value="Kept as typed"' in response.text
    # What was picked is shown again, by name.
    if overrides.get("coach") != "":
        assert 'name="coach" value="' in response.text
    assert CoachingSession.objects.count() == 0


def test_without_create_suggestions_the_form_is_403(as_user, org):
    for person in (org.cora, org.alice, org.nora):
        assert as_user(person).get("/sessions/new/").status_code == 403
        assert as_user(person).post("/sessions/new/", form_data(org)).status_code == 403
    assert CoachingSession.objects.count() == 0


def test_edit_prefills_and_saves(as_user, org, suggest):
    s = suggest(title="Before", cases=[org.case1001])
    client = as_user(org.sam)
    form = client.get(f"/sessions/{s.pk}/edit/", **HTMX).text
    assert 'value="Before"' in form and f'value="user:{org.cora.pk}"' in form
    assert f'name="reference_case_ids" value="{org.case1001.pk}"' in form
    expiry = re.search(r'name="expires_at" type="datetime-local" value="([^"]+)"', form).group(1)
    data = form_data(org, title="After", expires_at=expiry)
    data["reference_case_ids"] = [str(org.case1001.pk)]
    response = client.post(f"/sessions/{s.pk}/edit/", data, **HTMX)
    assert response.status_code == 200 and "coaching:changed" in response["HX-Trigger"]
    s.refresh_from_db()
    assert s.title == "After" and s.version == 2
    # Only the title changed: the untouched expiry is not recorded as an edit.
    assert s.events.get(action="edited").changes == {"title": ["Before", "After"]}


def test_edit_errors_and_permissions(as_user, org, suggest):
    s = suggest()
    bad = as_user(org.sam).post(f"/sessions/{s.pk}/edit/", form_data(org, coach=""), **HTMX)
    assert bad.status_code == 422 and "Pick a coach" in field_error(bad.text, "f-coach")
    assert as_user(org.sue).get(f"/sessions/{s.pk}/edit/").status_code == 403
    assert as_user(org.cora).get(f"/sessions/{s.pk}/edit/", **HTMX).status_code == 403
    assert as_user(org.dan).get(f"/sessions/{s.pk}/edit/").status_code == 404


def test_delete_asks_then_cancels(as_user, org, suggest):
    s = suggest(title="To delete")
    client = as_user(org.sam)
    confirm = client.get(f"/sessions/{s.pk}/delete/", **HTMX)
    assert confirm.status_code == 200 and "Delete this suggestion?" in confirm.text
    s.refresh_from_db()
    assert s.state == State.SUGGESTED
    response = client.post(f"/sessions/{s.pk}/delete/", **HTMX)
    assert "coaching:changed" in response["HX-Trigger"]
    s.refresh_from_db()
    assert (s.state, s.cancel_reason) == (State.CANCELED, CancelReason.DELETED_BY_SUPERVISOR)
    assert Notification.objects.filter(
        recipient=org.cora, message="Suggested Coaching Session has been canceled."
    ).exists()
    again = client.post(f"/sessions/{s.pk}/delete/", **HTMX)
    assert again.status_code == 409 and "already been canceled" in again.text


def test_schedule_prefills_validates_and_schedules(as_user, org, suggest):
    s = suggest(title="Schedule me", cases=[org.case1001])
    client = as_user(org.cora)
    form = client.get(f"/sessions/{s.pk}/schedule/", **HTMX).text
    assert 'value="Schedule me"' in form and f'value="user:{org.alice.pk}"' in form
    assert 'name="starts_at"' in form and 'name="duration_minutes"' in form
    assert 'name="location"' in form
    base = {
        "title": "Schedule me",
        "coach": f"user:{org.cora.pk}",
        "trainees": [f"user:{org.alice.pk}"],
        "coaching_area_id": str(org.areas["Empathy"].pk),
        "reference_case_ids": [str(org.case1001.pk)],
        "duration_minutes": "45",
        "location": "Room 2",
    }
    missing = client.post(f"/sessions/{s.pk}/schedule/", {**base, "starts_at": ""}, **HTMX)
    assert missing.status_code == 422
    assert "Enter the session" in field_error(missing.text, "f-starts")
    bad = client.post(
        f"/sessions/{s.pk}/schedule/",
        {**base, "starts_at": "2001-01-01T09:00", "duration_minutes": "2"},
        **HTMX,
    )
    assert "must start in the future" in field_error(bad.text, "f-starts")
    assert "between 5 and 360" in field_error(bad.text, "f-duration")
    sam_as_trainee = client.post(
        f"/sessions/{s.pk}/schedule/",
        {**base, "trainees": [f"user:{org.sam.pk}"], "starts_at": "2099-01-01T09:00"},
        **HTMX,
    )
    assert "cannot also be a trainee" in field_error(sam_as_trainee.text, "f-trainees")
    when = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    ok = client.post(f"/sessions/{s.pk}/schedule/", {**base, "starts_at": when}, **HTMX)
    assert ok.status_code == 200 and "coaching:changed" in ok["HX-Trigger"]
    s.refresh_from_db()
    assert (s.state, s.duration_minutes, s.location) == (State.SCHEDULED, 45, "Room 2")
    assert Notification.objects.get(recipient=org.sam).message == (
        "Cora Coach has scheduled a session based on your suggestion."
    )
    assert as_user(org.sam).get(f"/sessions/{s.pk}/schedule/").status_code == 403


def test_decline_requires_reason_coach_and_trainee(as_user, org, suggest):
    s = suggest(title="Coach declines")
    client = as_user(org.cora)
    dialog = client.get(f"/sessions/{s.pk}/decline/", **HTMX).text
    assert "Decline suggested session" in dialog and 'name="reason"' in dialog
    empty = client.post(f"/sessions/{s.pk}/decline/", {"reason": " "}, **HTMX)
    assert empty.status_code == 422
    assert "Enter a reason for declining." in field_error(empty.text, "f-reason")
    client.post(f"/sessions/{s.pk}/decline/", {"reason": "Fully booked"}, **HTMX)
    s.refresh_from_db()
    assert s.cancel_reason == CancelReason.DECLINED_BY_COACH and s.cancel_note == "Fully booked"
    assert Notification.objects.get(recipient=org.sam).message == (
        "Coaching Session has been canceled as Cora Coach has declined the suggested session "
        "because of Fully booked."
    )

    t = suggest(title="Trainee declines")
    as_user(org.alice).post(f"/sessions/{t.pk}/decline/", {"reason": "On leave"}, **HTMX)
    t.refresh_from_db()
    assert t.cancel_reason == CancelReason.DECLINED_BY_TRAINEE
    recipients = set(
        Notification.objects.filter(session=t, kind="session_canceled_by_trainee").values_list(
            "recipient__username", flat=True
        )
    )
    assert recipients == {"sam.supervisor", "cora.coach"}
    assert as_user(org.bob).get(f"/sessions/{t.pk}/decline/").status_code == 404


def test_plain_post_decline_redirects_with_message(as_user, org, suggest):
    s = suggest()
    client = as_user(org.cora)
    page = client.get(f"/sessions/{s.pk}/decline/")
    assert "<html" in page.text
    response = client.post(f"/sessions/{s.pk}/decline/", {"reason": "No", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Declined" in client.get("/").text


def test_an_unknown_origin_is_refused_as_the_api_refuses_it(as_user, org):
    """The origin is checked by the service's rule alone: a tampered hidden field is an error."""
    response = as_user(org.sam).post("/sessions/new/", form_data(org, origin="somewhere"), **HTMX)
    assert response.status_code == 422
    assert "Unknown origin &#x27;somewhere&#x27;." in response.text
    assert not CoachingSession.objects.exists()
