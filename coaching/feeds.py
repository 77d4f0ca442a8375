"""The private calendar feed: `GET /calendar/<user id>/<secret>.ics`, for Outlook, Google
Calendar and Apple Calendar to subscribe to. The secret in the URL is the only credential
(calendar clients cannot sign in); a wrong or rotated one answers 404, like any unknown URL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from directory import feed_keys
from directory.models import User

from . import calendar
from .models import AttendeeRole, CoachingSession, SessionAttendee, State

FEED_PAST = timedelta(days=90)
FEED_MAX = 500


def feed_entries(
    user_id: int, *, now: datetime | None = None
) -> Iterator[tuple[CoachingSession, User | None, list[User]]]:
    """The user's sessions (coaching or attending) from 90 days back on, newest first, at most
    500, each with its organizer and attendees: three queries on the `attendee_user_time` index
    whatever the number of sessions or attendees."""
    now = now or timezone.now()
    session_ids = list(
        SessionAttendee.objects.filter(user_id=user_id, starts_at__gte=now - FEED_PAST)
        .order_by("-starts_at", "session_id")
        .values_list("session_id", flat=True)[:FEED_MAX]
    )
    sessions = (
        CoachingSession.objects.filter(
            pk__in=session_ids,
            state__in=[State.SCHEDULED, State.COMPLETED, State.CANCELED],
            calendar_uid__isnull=False,
        )
        .select_related("coaching_area")
        .order_by("-starts_at", "id")
    )
    people: dict[int, list[SessionAttendee]] = {}
    for a in (
        SessionAttendee.objects.filter(session_id__in=session_ids)
        .select_related("user")
        .order_by("role", "id")
    ):
        people.setdefault(a.session_id, []).append(a)
    for session in sessions:
        rows = people.get(session.pk, [])
        host = next((a.user for a in rows if a.role == AttendeeRole.COACH), None)
        yield session, host, [a.user for a in rows if a.role == AttendeeRole.TRAINEE]


@require_GET
def calendar_feed(request: HttpRequest, user_id: int, token: str) -> HttpResponse:
    owner = feed_keys.feed_owner(user_id, token)
    if owner is None:
        raise Http404("No such calendar.")
    body = calendar.feed(owner, feed_entries(owner.pk))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="coaching-sessions.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response
