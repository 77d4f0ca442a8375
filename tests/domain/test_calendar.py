"""The iCalendar text of a session, parsed back: what Outlook, Google and Apple Calendar read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
import time_machine
from icalendar import Calendar

from coaching import calendar
from coaching.models import CalendarMethod, CoachingSession
from directory import feed_keys
from directory.models import User
from notifications.calendar_mail import with_calendar

from .helpers import ref, schedule, suggest

pytestmark = pytest.mark.django_db
START = datetime(2030, 3, 4, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(START - timedelta(days=3), tick=False) as traveller:
        yield traveller


@pytest.fixture
def session(org) -> CoachingSession:
    s = schedule(
        org.cora,
        suggest(org, title='Refunds; empathy, "tone"', trainees=[ref(org.tier1)]),
        starts_at=START,
        duration_minutes=45,
        location="Room 4",
    )
    CoachingSession.objects.filter(pk=s.pk).update(calendar_uid=uuid.uuid4(), calendar_sequence=3)
    return CoachingSession.objects.select_related("coaching_area").get(pk=s.pk)


def parse(text: str):
    cal = Calendar.from_ical(text)
    (event,) = cal.walk("VEVENT")
    return cal, event


def test_invitation_is_an_itip_request_with_utc_times(org, session):
    text = calendar.itip_message(
        session, method=CalendarMethod.REQUEST, organizer=org.cora, attendees=[org.alice, org.bob]
    )
    cal, event = parse(text)
    assert str(cal["method"]) == "REQUEST"
    assert str(cal["version"]) == "2.0"
    assert str(event["uid"]) == str(session.calendar_uid)
    assert int(event["sequence"]) == 3
    assert event.decoded("dtstart") == START
    assert event.decoded("dtend") == START + timedelta(minutes=45)
    assert "DTSTART:20300304T093000Z" in text  # UTC form, no floating time
    assert str(event["summary"]) == 'Refunds; empathy, "tone"'
    assert str(event["location"]) == "Room 4"
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["organizer"]) == f"mailto:{org.cora.email}"
    assert event["organizer"].params["CN"] == "Cora Coach"
    attendees = event.get("attendee")
    assert sorted(str(a) for a in attendees) == sorted(
        [f"mailto:{org.alice.email}", f"mailto:{org.bob.email}"]
    )
    assert {a.params["ROLE"] for a in attendees} == {"REQ-PARTICIPANT"}
    assert f"/sessions/{session.pk}/" in str(event["url"])


def test_cancellation_keeps_the_uid_and_says_cancelled(org, session):
    text = calendar.itip_message(
        session, method=CalendarMethod.CANCEL, organizer=org.cora, attendees=[org.alice]
    )
    cal, event = parse(text)
    assert str(cal["method"]) == "CANCEL"
    assert str(event["uid"]) == str(session.calendar_uid)
    assert str(event["status"]) == "CANCELLED"


def test_people_without_an_address_are_left_out_and_the_organizer_falls_back(org, session):
    User.objects.filter(pk=org.cora.pk).update(email="")
    cora = User.objects.get(pk=org.cora.pk)
    nobody = User.objects.create(username="no.mail", display_name="No Mail", email="")
    _, event = parse(
        calendar.itip_message(
            session, method=CalendarMethod.REQUEST, organizer=cora, attendees=[nobody, org.alice]
        )
    )
    assert str(event["organizer"]) == "mailto:coaching@localhost"
    assert event["organizer"].params["CN"] == "Cora Coach"
    assert [str(a) for a in [event["attendee"]]] == [f"mailto:{org.alice.email}"]


def test_feed_lists_sessions_without_a_method(org, session):
    text = calendar.feed(org.alice, [(session, org.cora, [org.alice])])
    cal, event = parse(text)
    assert "method" not in cal
    assert str(cal["x-wr-calname"]) == "Coaching sessions of Alice Agent"
    assert str(event["uid"]) == str(session.calendar_uid)


def test_e_mail_carries_the_calendar_as_text_calendar_with_its_method(org, session):
    from django.core.mail import EmailMessage

    ics = calendar.itip_message(
        session, method=CalendarMethod.REQUEST, organizer=org.cora, attendees=[org.alice]
    )
    msg = with_calendar(
        EmailMessage("Invitation", "Hello", "from@example.com", ["alice@example.com"]),
        ics=ics,
        method="REQUEST",
    )
    parsed = message_from_bytes(msg.message().as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p for p in parsed.iter_parts()}
    assert parts["text/plain"].get_content().strip() == "Hello"
    cal_part = parts["text/calendar"]
    assert cal_part.get_param("method") == "REQUEST"
    _, event = parse(cal_part.get_content())
    assert str(event["uid"]) == str(session.calendar_uid)


def test_feed_url_is_secret_per_user_and_changes_with_the_key(org):
    token = feed_keys.feed_token(org.alice)
    assert feed_keys.feed_owner(org.alice.pk, token) == org.alice
    assert feed_keys.feed_owner(org.bob.pk, token) is None
    assert (
        feed_keys.feed_owner(org.alice.pk, token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    )
    assert feed_keys.feed_token(org.bob) != token
    User.objects.filter(pk=org.alice.pk).update(calendar_feed_key="rotated")
    assert feed_keys.feed_owner(org.alice.pk, token) is None
