from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Kind(models.TextChoices):
    SESSION_SUGGESTED = "session_suggested", "Session Suggested"
    SESSION_CANCELED_BY_SUPERVISOR = (
        "session_canceled_by_supervisor",
        "Session Canceled by Supervisor",
    )
    SESSION_CANCELED_BY_COACH = "session_canceled_by_coach", "Session Canceled by Coach"
    SESSION_CANCELED_BY_TRAINEE = "session_canceled_by_trainee", "Session Canceled by Trainee"
    SESSION_EXPIRED = "session_expired", "Session Expired"
    SESSION_SCHEDULED = "session_scheduled", "Session Scheduled"
    SESSION_INVITATION = "session_invitation", "Session Invitation"
    SESSION_RESCHEDULED = "session_rescheduled", "Session Rescheduled"
    SESSION_CANCELED_AFTER_SCHEDULING = (
        "session_canceled_after_scheduling",
        "Session Canceled after Scheduling",
    )
    SESSION_COMPLETED = "session_completed", "Session Completed"
    SESSION_ACKNOWLEDGED = "session_acknowledged", "Session Acknowledged"
    SESSION_REMINDER = "session_reminder", "Session Reminder"
    SUGGESTION_EXPIRING = "suggestion_expiring", "Suggestion Expiring"


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"
    UNCERTAIN = "uncertain", "Uncertain (worker stopped mid-send; not resent)"
    SKIPPED = "skipped", "Skipped (user opted out or has no address)"


class Notification(models.Model):
    """One in-app notification, and the state of its e-mail.

    Written in the same transaction as the change it reports. The e-mail columns form a small
    outbox: the worker claims a row (pending -> sending), sends, then records sent; a claim that
    never finished is marked uncertain rather than sent again.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    message = models.TextField()
    session = models.ForeignKey(
        "coaching.CoachingSession", on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # The calendar invitation or cancellation the e-mail carries (a text/calendar part).
    calendar = models.ForeignKey(
        "coaching.CalendarRevision",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    email_status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_next_attempt_at = models.DateTimeField(null=True, blank=True)
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_inbox"),
            models.Index(
                fields=["recipient", "-created_at", "-id"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
            models.Index(
                fields=["email_next_attempt_at"],
                condition=Q(email_status__in=["pending", "sending"]),
                name="notification_email_due",
            ),
        ]

    def __str__(self) -> str:
        return self.message
