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

from directory.models import User
from notifications.models import Kind, Notification
from notifications.services import Recipient, notify

from .models import Action, CoachingSession


def coach(session: CoachingSession) -> list[Recipient]:
    return [session.coach_user or session.coach_group]


def author(session: CoachingSession) -> list[Recipient]:
    return [session.suggested_by]


def coach_and_author(session: CoachingSession) -> list[Recipient]:
    return [*coach(session), *author(session)]


@dataclass(frozen=True)
class Message:
    kind: Kind
    # Placeholders: {actor} who acted, {author} the suggestion's author, {reason} the reason given.
    text: str
    recipients: Callable[[CoachingSession], list[Recipient]]


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
        Kind.SESSION_SCHEDULED, "{actor} has scheduled a session based on your suggestion.", author
    ),
}


def render(action: Action, *, actor: str = "", author: str = "", reason: str = "") -> str:
    """The text of `action`'s notification with the names filled in."""
    return MESSAGES[action].text.format(actor=actor, author=author, reason=reason)


def announce(
    action: Action,
    session: CoachingSession,
    *,
    actor: User | None,
    now: datetime,
    already_told: Iterable[Recipient] = (),
) -> list[Notification]:
    """Notify the recipients of `action` (but not those `already_told` of this session)."""
    message = MESSAGES[action]
    return notify(
        kind=message.kind,
        session_id=session.pk,
        message=render(
            action,
            actor=str(actor) if actor is not None else "",
            author=session.suggested_by_name,
            reason=session.cancel_note,
        ),
        recipients=message.recipients(session),
        actor=actor,
        now=now,
        skip=already_told,
    )
