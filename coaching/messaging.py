"""Who is told what when a coaching session changes: one table.

Each entry names the audit action that sends it, the notification kind, the text (the spec's,
with names filled in from the session and the person who acted) and the recipients. The services
call `announce(action, session, ...)` inside the transaction of the change. Nobody is told of their
own act; groups expand to their active members; removed users are dropped
(`notifications.services.notify`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from core.timeutils import format_moment
from directory.models import User
from notifications.models import Kind
from notifications.services import Recipient, notify

from .models import Action, AttendeeRole, CalendarRevision, CoachingSession, SessionAttendee


def coach(session: CoachingSession) -> list[Recipient]:
    return [session.coach_user or session.coach_group]


def author(session: CoachingSession) -> list[Recipient]:
    return [session.suggested_by]


def coach_and_author(session: CoachingSession) -> list[Recipient]:
    return [*coach(session), *author(session)]


def _invited(session: CoachingSession, role: AttendeeRole) -> list[Recipient]:
    return [
        a.user
        for a in SessionAttendee.objects.filter(session=session, role=role)
        .select_related("user")
        .order_by("id")
    ]


def invited_trainees(session: CoachingSession) -> list[Recipient]:
    """The trainees on the invitation list (groups expanded when it was scheduled)."""
    return _invited(session, AttendeeRole.TRAINEE)


def holder(session: CoachingSession) -> list[Recipient]:
    """The coach who holds the scheduled session (the coach user, or the acting group member)."""
    return _invited(session, AttendeeRole.COACH)


def completer(session: CoachingSession) -> list[Recipient]:
    return [session.completed_by]


@dataclass(frozen=True)
class Message:
    kind: Kind
    # Placeholders: {actor} who acted, {author} the suggestion's author, {reason} the reason given,
    # {start} the session's start in each recipient's own time zone.
    text: str
    recipients: Callable[[CoachingSession], list[Recipient]]
    # The e-mail carries the change's calendar message (the invitation list only: the author's
    # calendar is not theirs to fill).
    calendar: bool = False
    # The same change told to other people (another kind or text, or without the calendar).
    also: tuple[Message, ...] = ()


RESCHEDULED = "{actor} has moved the coaching session to {start}."
CANCELED_AFTER_SCHEDULING = (
    "Coaching Session has been canceled as {actor} has canceled the scheduled session because of "
    "{reason}."
)

MESSAGES: dict[Action, Message] = {
    Action.SUGGESTED: Message(
        Kind.SESSION_SUGGESTED, "{author} suggested a coaching session.", coach
    ),
    Action.DELETED: Message(
        Kind.SESSION_CANCELED_BY_SUPERVISOR, "Suggested Coaching Session has been canceled.", coach
    ),
    Action.EXPIRED: Message(
        Kind.SESSION_EXPIRED,
        "Coaching Session has been canceled because the suggested coaching session was not "
        "scheduled and has expired.",
        coach_and_author,
    ),
    Action.DECLINED_BY_COACH: Message(
        Kind.SESSION_CANCELED_BY_COACH,
        "Coaching Session has been canceled as {actor} has declined the suggested session "
        "because of {reason}.",
        author,
    ),
    Action.DECLINED_BY_TRAINEE: Message(
        Kind.SESSION_CANCELED_BY_TRAINEE,
        "Coaching Session has been canceled as {actor} has declined the suggested session "
        "because of {reason}.",
        lambda session: [*author(session), *coach(session)],
    ),
    Action.SCHEDULED: Message(
        Kind.SESSION_SCHEDULED,
        "{actor} has scheduled a session based on your suggestion.",
        author,
        also=(
            Message(
                Kind.SESSION_INVITATION,
                "{actor} has scheduled a coaching session with you.",
                invited_trainees,
                calendar=True,
            ),
        ),
    ),
    # After scheduling (decisions.md, 2026-12-01; our texts).
    Action.RESCHEDULED: Message(
        Kind.SESSION_RESCHEDULED,
        RESCHEDULED,
        invited_trainees,
        calendar=True,
        also=(Message(Kind.SESSION_RESCHEDULED, RESCHEDULED, author),),
    ),
    Action.CANCELED: Message(
        Kind.SESSION_CANCELED_AFTER_SCHEDULING,
        CANCELED_AFTER_SCHEDULING,
        invited_trainees,
        calendar=True,
        # The holder learns of it when someone else canceled (a QM Admin, another group member).
        also=(
            Message(
                Kind.SESSION_CANCELED_AFTER_SCHEDULING,
                CANCELED_AFTER_SCHEDULING,
                lambda session: [*author(session), *holder(session)],
            ),
        ),
    ),
    Action.COMPLETED: Message(
        Kind.SESSION_COMPLETED,
        "{actor} has completed the coaching session and shared notes.",
        lambda session: [*invited_trainees(session), *author(session)],
    ),
    Action.ACKNOWLEDGED: Message(
        Kind.SESSION_ACKNOWLEDGED, "{actor} has acknowledged the coaching session.", completer
    ),
}


def render(
    action: Action,
    *,
    actor: str = "",
    author: str = "",
    reason: str = "",
    start: str = "",
    message: Message | None = None,
) -> str:
    """The text of `action`'s notification with the names filled in."""
    text = (message or MESSAGES[action]).text
    return text.format(actor=actor, author=author, reason=reason, start=start)


def announce(
    action: Action,
    session: CoachingSession,
    *,
    actor: User | None,
    now: datetime,
    already_told: Iterable[Recipient] = (),
    also_tell: Iterable[Recipient] = (),
    calendar: CalendarRevision | None = None,
) -> list[int]:
    """Notify the recipients of `action` (but not those `already_told` of this session; and
    `also_tell` beside the table's recipients). Each audience of the entry is told once: someone
    in two of them hears it in the first."""
    main = MESSAGES[action]
    told: list[Recipient] = list(already_told)
    sent: list[int] = []
    for i, message in enumerate((main, *main.also)):
        recipients = message.recipients(session) + (list(also_tell) if i == len(main.also) else [])

        def text(user: User | None, message: Message = message) -> str:
            start = session.starts_at
            zone = user.time_zone if user is not None else None
            return render(
                action,
                message=message,
                actor=str(actor) if actor is not None else "",
                author=session.suggested_by_name,
                reason=session.cancel_note,
                start=format_moment(start, zone) if start is not None else "",
            )

        sent += notify(
            kind=message.kind,
            session_id=session.pk,
            # A text naming the start is written in each recipient's own zone.
            message=text if "{start}" in message.text else text(None),
            recipients=recipients,
            actor=actor,
            now=now,
            skip=told,
            calendar=calendar if message.calendar else None,
        )
        told += recipients
    return sent
