from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Now, Upper

from .working_hours import default_working_hours


def new_feed_key() -> str:
    return secrets.token_urlsafe(24)


class User(AbstractUser):
    """A person in the directory. The profile fields live here to spare a join on every list."""

    display_name = models.CharField(max_length=150, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    email_notifications = models.BooleanField(
        default=True, help_text="Also send each in-app notification by e-mail."
    )
    working_hours = models.JSONField(
        default=default_working_hours,
        help_text="Per weekday, the [start, end) wall-clock ranges in the user's time zone.",
    )
    # Part of the private calendar feed URL (the URL carries an HMAC of it, so a database copy
    # alone does not give the feeds away). A new key revokes the old URL.
    calendar_feed_key = models.CharField(max_length=64, default=new_feed_key)

    class Meta:
        ordering = ["display_name", "id"]
        indexes = [
            models.Index(Upper("display_name"), "id", name="user_display_name_upper"),
            # The typeahead's order: with LIMIT 10 a common short term is read from this index
            # in order instead of sorting every match (a scan of all users at 50,000).
            models.Index(fields=["display_name", "id"], name="user_display_name"),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.display_name:
            self.display_name = self.get_full_name() or self.username
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.display_name or self.username


class UserGroup(models.Model):
    """A named set of users that can be picked as coach or trainees. Not a permission role."""

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(
        User, through="UserGroupMembership", related_name="user_groups"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(Upper("name"), "id", name="usergroup_name_upper")]

    def __str__(self) -> str:
        return self.name


class UserGroupMembership(models.Model):
    group = models.ForeignKey(
        UserGroup, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="group_memberships", db_index=False
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="uniq_group_member")]
        # (group, user) comes with the constraint; this one answers "which groups is X in".
        indexes = [models.Index(fields=["user", "group"], name="membership_user_group")]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


class CoachingArea(models.Model):
    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Case(models.Model):
    """A contact-center interaction (call, chat, e-mail) that was handled and may be evaluated."""

    number = models.CharField(max_length=40, unique=True)
    subject = models.CharField(max_length=300, blank=True)
    channel = models.CharField(max_length=20, default="voice")
    opened_at = models.DateTimeField()
    participants = models.ManyToManyField(User, through="CaseParticipant", related_name="cases")

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["-opened_at", "-id"], name="case_opened"),
            models.Index(Upper("subject"), "id", name="case_subject_upper"),
        ]

    def __str__(self) -> str:
        return self.number


class ParticipantRole(models.TextChoices):
    AGENT = "agent", "Agent"
    AUDITOR = "auditor", "Auditor"


class CaseParticipant(models.Model):
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="participations", db_index=False
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="case_participations", db_index=False
    )
    role = models.CharField(max_length=10, choices=ParticipantRole.choices)

    class Meta:
        ordering = ["role", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "user"], name="uniq_case_participant")
        ]
        indexes = [models.Index(fields=["user", "case"], name="participant_user_case")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) on {self.case}"


def local_source_id() -> str:
    """The id of an evaluation made here rather than received (the demo, the admin, tests)."""
    return f"local-{secrets.token_hex(8)}"


class Evaluation(models.Model):
    """A QA score (0-100) for one agent in one coaching area, usually on one case, as the QA tool
    sent it. `source_id` is that tool's id: sending it again updates the row (idempotent ingest)."""

    source_id = models.CharField(max_length=100, unique=True, default=local_source_id)
    case = models.ForeignKey(
        Case,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="evaluations",
        db_index=False,
    )
    agent = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="evaluations", db_index=False
    )
    coaching_area = models.ForeignKey(
        CoachingArea,
        on_delete=models.PROTECT,
        related_name="evaluations",
        db_index=False,  # a composite index leads with this column
    )
    score = models.PositiveSmallIntegerField()
    evaluated_at = models.DateTimeField()
    evaluator = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="evaluations_made"
    )
    received_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=100), name="evaluation_score_0_100"
            )
        ]
        indexes = [
            models.Index(fields=["agent", "-evaluated_at"], name="evaluation_agent_time"),
            models.Index(fields=["case", "-evaluated_at"], name="evaluation_case_time"),
            # Rules (an agent's last N in an area), the effect windows and the report. The score
            # and the id (the windows' tie-break) ride along (PostgreSQL): the windows read their
            # rows from the index alone, without a heap fetch each.
            models.Index(
                fields=["coaching_area", "agent", "evaluated_at"],
                include=["score", "id"],
                name="evaluation_area_agent_time",
            ),
            # The evaluations API's list, newest first, whole or by area.
            models.Index(fields=["-evaluated_at", "-id"], name="evaluation_time"),
            models.Index(
                fields=["coaching_area", "-evaluated_at", "-id"], name="evaluation_area_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} {self.score} on {self.case or 'no case'}"


__all__ = [
    "Case",
    "CaseParticipant",
    "CoachingArea",
    "Evaluation",
    "ParticipantRole",
    "User",
    "UserGroup",
    "UserGroupMembership",
]
