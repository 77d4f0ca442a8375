from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from directory.models import Case, CoachingArea, UserGroup
from directory.permissions import Perm


class State(models.TextChoices):
    SUGGESTED = "suggested", "Suggested"
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    CANCELED = "canceled", "Canceled"


class CancelReason(models.TextChoices):
    DELETED_BY_SUPERVISOR = "deleted_by_supervisor", "Deleted by supervisor"
    DECLINED_BY_COACH = "declined_by_coach", "Declined by coach"
    DECLINED_BY_TRAINEE = "declined_by_trainee", "Declined by trainee"
    EXPIRED = "expired", "Expired"
    CANCELED_BY_COACH = "canceled_by_coach", "Canceled by coach"


class Origin(models.TextChoices):
    HOMEPAGE = "homepage", "Homepage"
    AGENT_ANALYTICS = "agent_analytics", "Agent Analytics"
    CASE_ANALYTICS = "case_analytics", "Case Analytics"
    RULE = "rule", "Coaching rule"


class SessionQuerySet(models.QuerySet["CoachingSession"]):
    """Sessions; `with_cards()` also loads, when the rows are fetched, everything a card or the
    API shows of them (people, groups, area, cases) in one more query (see
    `coaching.selectors.load_related`)."""

    _with_cards = False
    _cards_viewer: Any = None

    def with_cards(self, viewer: Any = None) -> SessionQuerySet:
        clone = self._chain()  # type: ignore[attr-defined]
        clone._with_cards = True
        clone._cards_viewer = viewer
        return clone

    def _clone(self) -> SessionQuerySet:
        clone = super()._clone()  # type: ignore[misc]
        clone._with_cards = self._with_cards
        clone._cards_viewer = self._cards_viewer
        return clone

    def _fetch_all(self) -> None:
        fresh = self._result_cache is None
        super()._fetch_all()
        rows = self._result_cache
        if fresh and self._with_cards and rows and isinstance(rows[0], CoachingSession):
            from .selectors import load_related

            load_related(rows, self._cards_viewer)  # type: ignore[arg-type]


class CoachingSession(models.Model):
    """One coaching session, from suggestion to scheduled, then completed or canceled.

    Only `coaching.services` writes these rows. A suggestion whose `expires_at` has passed but that
    the worker has not yet recorded reads as canceled/expired (see `effective_state`).
    """

    title = models.CharField(max_length=200)
    state = models.CharField(max_length=12, choices=State.choices, default=State.SUGGESTED)

    coach_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        db_index=False,  # a composite index leads with this column
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coaching_sessions_as_coach",
    )
    coach_group = models.ForeignKey(
        UserGroup,
        db_index=False,  # a composite index leads with this column
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coaching_sessions_as_coach",
    )
    trainee_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="SessionTraineeUser", related_name="+", blank=True
    )
    trainee_groups = models.ManyToManyField(
        UserGroup, through="SessionTraineeGroup", related_name="+", blank=True
    )
    coaching_area = models.ForeignKey(CoachingArea, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField()
    reference_cases = models.ManyToManyField(
        Case, through="SessionReferenceCase", related_name="coaching_sessions", blank=True
    )

    # The author. The name is kept beside the key so history stays readable after the author
    # leaves the directory.
    suggested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        db_index=False,  # a composite index leads with this column
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coaching_suggestions",
    )
    suggested_by_name = models.CharField(max_length=150)
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.HOMEPAGE)

    starts_at = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)

    cancel_reason = models.CharField(
        max_length=30, choices=CancelReason.choices, blank=True, default=""
    )
    cancel_note = models.TextField(blank=True)
    canceled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    canceled_by_name = models.CharField(max_length=150, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    completed_by_name = models.CharField(max_length=150, blank=True)
    completion_notes = models.TextField(blank=True)
    action_items = models.JSONField(default=list, blank=True)

    # The iCalendar identity (RFC 5545 UID, fixed once scheduled) and revision (SEQUENCE, raised on
    # every change a calendar must apply: reschedule, cancel).
    calendar_uid = models.UUIDField(null=True, blank=True, unique=True)
    calendar_sequence = models.PositiveIntegerField(default=0)

    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = SessionQuerySet.as_manager()

    class Meta:
        permissions = Perm.choices  # type: ignore[assignment]  # (stubs want str | _StrPromise)
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(coach_user__isnull=False) & Q(coach_group__isnull=True))
                | (Q(coach_user__isnull=True) & Q(coach_group__isnull=False)),
                name="session_coach_user_xor_group",
            ),
            models.CheckConstraint(
                condition=Q(state=State.CANCELED, canceled_at__isnull=False) & ~Q(cancel_reason="")
                | ~Q(state=State.CANCELED) & Q(cancel_reason=""),
                name="session_cancel_reason_iff_canceled",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=[State.SCHEDULED, State.COMPLETED])
                | Q(starts_at__isnull=False, duration_minutes__isnull=False),
                name="session_scheduled_has_time",
            ),
            models.CheckConstraint(
                condition=Q(state=State.COMPLETED, completed_at__isnull=False)
                | ~Q(state=State.COMPLETED) & Q(completed_at__isnull=True),
                name="session_completed_at_iff_completed",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__isnull=True)
                | Q(duration_minutes__gte=5, duration_minutes__lte=360),
                name="session_duration_5_360",
            ),
        ]
        indexes = [
            # Author's cards.
            models.Index(fields=["suggested_by", "-created_at", "-id"], name="session_author"),
            # The author's open suggestions, newest first: the first rows of this index (the
            # state is written into the statement, `core.shapes.Written`, so a prepared statement
            # can use it).
            models.Index(
                fields=["suggested_by", "-created_at", "-id"],
                condition=Q(state=State.SUGGESTED),
                name="session_author_open",
            ),
            # The author's open and past counts (the homepage's sections): index-only scans, not
            # a visit to each of a busy supervisor's thousands of sessions per page view.
            models.Index(
                fields=["suggested_by", "state", "expires_at"], name="session_author_state"
            ),
            # Coach's sections, direct and through a group (`selectors.coached`: one arm each):
            # open suggestions, and scheduled sessions still ahead, each count an index-only
            # scan of the coach's own rows.
            models.Index(fields=["coach_user", "state", "expires_at"], name="session_coach_user"),
            models.Index(fields=["coach_group", "state", "expires_at"], name="session_coach_group"),
            models.Index(
                fields=["coach_user", "starts_at", "id"],
                condition=Q(state=State.SCHEDULED),
                name="session_coach_user_ahead",
            ),
            models.Index(
                fields=["coach_group", "starts_at", "id"],
                condition=Q(state=State.SCHEDULED),
                name="session_coach_group_ahead",
            ),
            # Expiry sweep: only open suggestions, soonest first.
            models.Index(
                fields=["expires_at"],
                condition=Q(state=State.SUGGESTED),
                name="session_open_expiry",
            ),
            models.Index(fields=["state", "-created_at", "-id"], name="session_state_created"),
            models.Index(fields=["-created_at", "-id"], name="session_created"),
        ]

    def __str__(self) -> str:
        return self.title

    # --- derived state -------------------------------------------------------------------------
    def is_past_expiry(self, now: datetime | None = None) -> bool:
        return self.state == State.SUGGESTED and self.expires_at <= (now or timezone.now())

    @property
    def effective_state(self) -> str:
        return State.CANCELED if self.is_past_expiry() else self.state

    @property
    def effective_cancel_reason(self) -> str:
        return CancelReason.EXPIRED if self.is_past_expiry() else self.cancel_reason

    @property
    def effective_canceled_at(self) -> datetime | None:
        return self.expires_at if self.is_past_expiry() else self.canceled_at

    @property
    def coach(self) -> Any:
        return self.coach_user or self.coach_group

    @property
    def coach_name(self) -> str:
        coach = self.coach
        return str(coach) if coach is not None else ""

    @property
    def ends_at(self) -> datetime | None:
        if self.starts_at is None or self.duration_minutes is None:
            return None
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    def has_started(self, now: datetime | None = None) -> bool:
        return self.starts_at is not None and self.starts_at <= (now or timezone.now())


class SessionTraineeUser(models.Model):
    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="trainee_user_links", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="uniq_session_trainee_user")
        ]
        indexes = [models.Index(fields=["user", "session"], name="trainee_user_session")]

    def __str__(self) -> str:
        return f"{self.user_id} in session {self.session_id}"


class SessionTraineeGroup(models.Model):
    session = models.ForeignKey(
        CoachingSession,
        on_delete=models.CASCADE,
        related_name="trainee_group_links",
        db_index=False,
    )
    group = models.ForeignKey(UserGroup, on_delete=models.PROTECT, related_name="+", db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "group"], name="uniq_session_trainee_group")
        ]
        indexes = [models.Index(fields=["group", "session"], name="trainee_group_session")]

    def __str__(self) -> str:
        return f"group {self.group_id} in session {self.session_id}"


class SessionReferenceCase(models.Model):
    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="case_links", db_index=False
    )
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+", db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "case"], name="uniq_session_case")
        ]
        indexes = [models.Index(fields=["case", "session"], name="reference_case_session")]

    def __str__(self) -> str:
        return f"case {self.case_id} in session {self.session_id}"


class Action(models.TextChoices):
    SUGGESTED = "suggested", "Suggested"
    EDITED = "edited", "Edited"
    DELETED = "deleted", "Deleted"
    SCHEDULED = "scheduled", "Scheduled"
    DECLINED_BY_COACH = "declined_by_coach", "Declined by coach"
    DECLINED_BY_TRAINEE = "declined_by_trainee", "Declined by trainee"
    EXPIRED = "expired", "Expired"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELED = "canceled", "Canceled"
    COMPLETED = "completed", "Completed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class SessionEvent(models.Model):
    """The audit trail: who did what to a session, when, and which fields changed."""

    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30, choices=Action.choices)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["session", "at", "id"], name="event_session_time")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_name or 'system'}"


class AttendeeRole(models.TextChoices):
    COACH = "coach", "Coach"
    TRAINEE = "trainee", "Trainee"


class SessionAttendee(models.Model):
    """A person invited to a scheduled session: the coach who holds it (the coach user, or the
    member of the coach group who scheduled it) and each trainee user, groups expanded when it was
    scheduled. The invitation list: calendar ATTENDEEs, reminders and the later notices go to
    these people, and each trainee acknowledges a completed session here.

    The times are copied from the session so that "who is busy when" (conflicts, free slots) is
    one range scan per person on (user, starts_at) instead of a walk through every session the
    person or their groups were ever part of. `busy` is true exactly while the session is
    scheduled.
    """

    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="attendees", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    role = models.CharField(max_length=10, choices=AttendeeRole.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    busy = models.BooleanField(default=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["role", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="uniq_session_attendee"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="attendee_span"),
        ]
        indexes = [
            # Conflicts and free slots: a person's scheduled sessions in a time window.
            models.Index(
                fields=["user", "starts_at"], condition=Q(busy=True), name="attendee_busy"
            ),
            # A person's sessions by time (upcoming on their homepage, their calendar feed).
            models.Index(fields=["user", "-starts_at", "session"], name="attendee_user_time"),
            # A trainee's sessions still waiting for their acknowledgement.
            models.Index(
                fields=["user", "session"],
                condition=Q(role="trainee", acknowledged_at__isnull=True),
                name="attendee_unacknowledged",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ({self.role}) in session {self.session_id}"


class ReminderKind(models.TextChoices):
    SESSION_START = "session_start", "Before the session starts"
    SUGGESTION_EXPIRY = "suggestion_expiry", "Before the suggestion expires"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    DROPPED = "dropped", "Dropped (moved, closed, or its moment passed)"


class Reminder(models.Model):
    """One reminder to send at `due_at`, for the session's start or the suggestion's expiry at
    `target_at`. A task at `due_at` sends it and the sweep catches any whose task was lost; both
    lock this row and send only a pending one, so it goes out once whatever the number of workers.
    A change of time drops the pending reminder and writes a new one (at most one pending per
    session and kind)."""

    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="reminders", db_index=False
    )
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    due_at = models.DateTimeField()
    target_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "kind"],
                condition=Q(status="pending"),
                name="uniq_pending_reminder",
            )
        ]
        indexes = [
            models.Index(
                fields=["due_at", "id"], condition=Q(status="pending"), name="reminder_due"
            ),
            models.Index(fields=["session", "kind"], name="reminder_session"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} reminder of session {self.session_id} at {self.due_at}"


class CalendarMethod(models.TextChoices):
    REQUEST = "REQUEST", "Request"
    CANCEL = "CANCEL", "Cancel"


class CalendarRevision(models.Model):
    """The iCalendar message (RFC 5546) of one change of a scheduled session, written with the
    change. Every e-mail about that change attaches this same text, so it says what was true at
    the change even when the e-mail leaves later, and a 500-trainee invitation is stored once."""

    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="calendar_revisions", db_index=False
    )
    sequence = models.PositiveIntegerField()
    method = models.CharField(max_length=10, choices=CalendarMethod.choices)
    ics = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["session", "sequence"], name="uniq_calendar_revision")
        ]

    def __str__(self) -> str:
        return f"{self.method} #{self.sequence} of session {self.session_id}"
