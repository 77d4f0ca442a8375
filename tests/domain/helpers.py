"""Shared helpers of the domain suite: form input, snapshots of the whole database, notifications
as (recipient, text) pairs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from coaching import services
from coaching.models import (
    CoachingSession,
    SessionEvent,
    SessionReferenceCase,
    SessionTraineeGroup,
    SessionTraineeUser,
)
from coaching.rules import SessionFields
from core.errors import ApplicationError
from directory.models import User, UserGroup, UserGroupMembership
from directory.parties import PartyRef
from notifications.models import Notification

EXPIRED_TEXT = (
    "Coaching Session has been canceled because the suggested coaching session was not scheduled "
    "and has expired."
)
CANCELED_BY_SUPERVISOR_TEXT = "Suggested Coaching Session has been canceled."


def ref(obj: Any) -> PartyRef:
    return PartyRef.of(obj)


def fields(org: Any, **kw: Any) -> SessionFields:
    """A valid suggestion form (Sam's point of view): coach Cora, trainee Alice, Empathy."""
    base: dict[str, Any] = dict(
        title="Empathy on refunds",
        coach=ref(org.cora),
        trainees=[ref(org.alice)],
        coaching_area_id=org.areas["Empathy"].pk,
    )
    base.update(kw)
    return SessionFields(**base)


def suggest(org: Any, actor: User | None = None, **kw: Any) -> CoachingSession:
    return services.session_suggest(actor=actor or org.sam, fields=fields(org, **kw))


def user_group(name: str, size: int) -> UserGroup:
    """A group of `size` new users, each with an e-mail address."""
    group = UserGroup.objects.create(name=name)
    users = User.objects.bulk_create(
        [
            User(username=f"{name}-{i}", display_name=f"{name} {i}", email=f"{name}{i}@x.example")
            for i in range(size)
        ]
    )
    UserGroupMembership.objects.bulk_create(
        [UserGroupMembership(group=group, user=u) for u in users]
    )
    return group


def fresh(user: User) -> User:
    """The user as a new request would load it (no cached group ids or admin flag)."""
    return User.objects.get(pk=user.pk)


def soon(days: float = 1) -> datetime:
    return timezone.now() + timedelta(days=days)


def schedule(actor: User, session: CoachingSession, **kw: Any) -> CoachingSession:
    return services.session_schedule(
        actor=actor,
        session_id=session.pk,
        starts_at=kw.pop("starts_at", soon(2)),
        duration_minutes=kw.pop("duration_minutes", 45),
        **kw,
    )


def world() -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    return {
        "sessions": list(
            CoachingSession.objects.order_by("pk").values_list(
                "pk",
                "state",
                "version",
                "title",
                "coach_user_id",
                "coach_group_id",
                "coaching_area_id",
                "expires_at",
                "cancel_reason",
                "updated_at",
            )
        ),
        "trainee_users": sorted(SessionTraineeUser.objects.values_list("session_id", "user_id")),
        "trainee_groups": sorted(SessionTraineeGroup.objects.values_list("session_id", "group_id")),
        "cases": sorted(SessionReferenceCase.objects.values_list("session_id", "case_id")),
        "events": SessionEvent.objects.count(),
        "notifications": Notification.objects.count(),
        "tasks": DBTaskResult.objects.count(),
    }


def codes(exc: ApplicationError) -> list[tuple[str, str]]:
    return [(e.field, str(e.code)) for e in exc.errors]


def inbox(session: CoachingSession | None = None, **filters: Any) -> list[tuple[str, str]]:
    """(recipient username, text) of notifications, sorted."""
    qs = Notification.objects.all()
    if session is not None:
        qs = qs.filter(session=session)
    return sorted(qs.filter(**filters).values_list("recipient__username", "message"))


def events(session: CoachingSession) -> list[tuple[str, str | None]]:
    return list(
        SessionEvent.objects.filter(session=session)
        .order_by("at", "id")
        .values_list("action", "actor__username")
    )


def started(name: str, act: Callable[[], object], outcome: dict[str, object]) -> threading.Thread:
    """`act` running in a thread of that name (its own database connection); what it returned,
    or the exception it raised, lands in `outcome[name]`."""

    def run() -> None:
        try:
            outcome[name] = act()
        except Exception as exc:  # noqa: BLE001 - the caller asserts on it
            outcome[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(name=name, target=run)
    thread.start()
    return thread


def at_once(acts: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Run each act in its own thread (its own database connection), all released at the same
    instant; what each returned, or the exception it raised, by name."""
    barrier = threading.Barrier(len(acts))
    outcome: dict[str, object] = {}

    def run(name: str, fn: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            outcome[name] = fn()
        except Exception as exc:  # noqa: BLE001 - the caller asserts on it
            outcome[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, f)) for n, f in acts.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcome
