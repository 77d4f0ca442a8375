"""Coaching sessions as iCalendar (RFC 5545) objects: the invitations and cancellations that
e-mails carry (iTIP, RFC 5546: METHOD REQUEST / CANCEL) and each user's private feed.

One session is one VEVENT whose UID never changes (a random UUID, as RFC 7986 recommends) and
whose SEQUENCE rises with every change a calendar must apply, so Outlook, Google Calendar and Apple
Calendar update or remove the event they already hold instead of adding a second one. Times are
written in UTC; each calendar shows them in its owner's zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from directory.models import User

from .models import CalendarMethod, CoachingSession, State

PRODID = "-//Coaching suggestions//Coaching sessions//EN"


def uid_of(session: CoachingSession) -> str:
    if session.calendar_uid is None:
        raise ValueError("Only a session that was scheduled has a calendar identity.")
    return str(session.calendar_uid)


def session_url(session: CoachingSession) -> str:
    return f"{settings.SITE_URL}/sessions/{session.pk}/"


def _address(user: User, **params: str) -> vCalAddress | None:
    if not user.email:
        return None
    address = vCalAddress(f"mailto:{user.email}")
    address.params["cn"] = vText(str(user))
    for key, value in params.items():
        address.params[key] = value
    return address


def _organizer(user: User | None) -> vCalAddress:
    """The coach; one without an e-mail address is named on the product's sender address, as
    iTIP requires an ORGANIZER on every request."""
    if user is not None and (found := _address(user)) is not None:
        return found
    name, email = parseaddr(settings.DEFAULT_FROM_EMAIL)
    address = vCalAddress(f"mailto:{email or 'coaching@localhost'}")
    address.params["cn"] = vText(str(user) if user is not None else name or "Coaching")
    return address


def event_of(
    session: CoachingSession,
    *,
    organizer: User | None,
    attendees: Iterable[User],
    canceled: bool,
    stamp: datetime,
) -> Event:
    starts_at, ends_at = session.starts_at, session.ends_at
    if starts_at is None or ends_at is None:
        raise ValueError("Only a session with a time can be a calendar event.")
    event = Event()
    event.add("uid", uid_of(session))
    event.add("sequence", session.calendar_sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", starts_at.astimezone(UTC))
    event.add("dtend", ends_at.astimezone(UTC))
    event.add("summary", session.title)
    if session.location:
        event.add("location", session.location)
    area = session.coaching_area.name if session.coaching_area_id else ""
    event.add(
        "description",
        f"Coaching session{f' ({area})' if area else ''}.\n{session_url(session)}",
    )
    event.add("url", session_url(session))
    event.add("status", "CANCELLED" if canceled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _organizer(organizer))
    for user in attendees:
        address = _address(
            user, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp="FALSE", cutype="INDIVIDUAL"
        )
        if address is not None:
            event.add("attendee", address)
    return event


def _calendar(method: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    return cal


def itip_message(
    session: CoachingSession,
    *,
    method: CalendarMethod,
    organizer: User | None,
    attendees: Sequence[User],
    stamp: datetime | None = None,
) -> str:
    """The text/calendar body of an invitation (REQUEST) or cancellation (CANCEL)."""
    cal = _calendar(str(method))
    cal.add_component(
        event_of(
            session,
            organizer=organizer,
            attendees=attendees,
            canceled=method == CalendarMethod.CANCEL,
            stamp=stamp or timezone.now(),
        )
    )
    return cal.to_ical().decode()


def feed(
    owner: User,
    entries: Iterable[tuple[CoachingSession, User | None, Sequence[User]]],
    *,
    stamp: datetime | None = None,
) -> str:
    """A subscribed calendar (no METHOD): the owner's sessions, each with its organizer and
    attendees. A session canceled after scheduling stays in as STATUS:CANCELLED so a calendar that
    copied it removes it."""
    stamp = stamp or timezone.now()
    cal = _calendar()
    cal.add("x-wr-calname", f"Coaching sessions of {owner}")
    cal.add("x-published-ttl", "PT1H")
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    for session, organizer, attendees in entries:
        cal.add_component(
            event_of(
                session,
                organizer=organizer,
                attendees=attendees,
                canceled=session.state == State.CANCELED,
                stamp=stamp,
            )
        )
    return cal.to_ical().decode()
