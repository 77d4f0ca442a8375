"""Coaching rules: "when an agent's average score in <area> over their last N evaluations (at
least M) falls below <threshold>, suggest a session to <coach>, expiring in D days"."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils import timezone

from directory.models import CoachingArea, UserGroup

NAME_MAX = 80  # "<area> coaching: <name>" stays within a session title's 200 characters
THRESHOLD_MIN, THRESHOLD_MAX = 0, 100
WINDOW_MIN, WINDOW_MAX = 1, 100
EXPIRES_MIN_DAYS, EXPIRES_MAX_DAYS = 1, 365


class CoachingRule(models.Model):
    """One rule, written by a QM Admin. Only `qa.services` writes these rows; the engine
    (`qa.engine`) reads them and moves `last_run_at`, `swept_on` and `suggestions_created`."""

    name = models.CharField(max_length=NAME_MAX)
    coaching_area = models.ForeignKey(CoachingArea, on_delete=models.PROTECT, related_name="+")
    threshold = models.PositiveSmallIntegerField(help_text="Fires when the average is below it.")
    window = models.PositiveSmallIntegerField(help_text="The agent's last N evaluations.")
    min_evaluations = models.PositiveSmallIntegerField(help_text="At least M of them.")
    coach_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    coach_group = models.ForeignKey(
        UserGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    expires_in_days = models.PositiveSmallIntegerField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The last evaluation of the rule (on arrival, in the sweep or by an operator).
    last_run_at = models.DateTimeField(null=True, blank=True)
    # The UTC day of the last daily sweep: the sweeper that moves it claims that day's run.
    swept_on = models.DateField(null=True, blank=True)
    # Raised in the transaction that creates the suggestions (read without counting sessions).
    suggestions_created = models.PositiveIntegerField(default=0)
    # Why the last run could make no suggestion (its coach left, its group emptied), or "".
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(Upper("name"), name="uniq_rule_name_ci"),
            models.CheckConstraint(
                condition=(Q(coach_user__isnull=False) & Q(coach_group__isnull=True))
                | (Q(coach_user__isnull=True) & Q(coach_group__isnull=False)),
                name="rule_coach_user_xor_group",
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=THRESHOLD_MIN, threshold__lte=THRESHOLD_MAX),
                name="rule_threshold_0_100",
            ),
            models.CheckConstraint(
                condition=Q(window__gte=WINDOW_MIN, window__lte=WINDOW_MAX)
                & Q(min_evaluations__gte=1, min_evaluations__lte=F("window")),
                name="rule_window_bounds",
            ),
            models.CheckConstraint(
                condition=Q(expires_in_days__gte=EXPIRES_MIN_DAYS)
                & Q(expires_in_days__lte=EXPIRES_MAX_DAYS),
                name="rule_expiry_bounds",
            ),
        ]
        indexes = [
            models.Index(
                fields=["coaching_area"], condition=Q(active=True), name="rule_active_area"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def coach(self) -> Any:
        return self.coach_user or self.coach_group

    @property
    def condition(self) -> str:
        """The rule in words, as the rules page lists it."""
        return (
            f"Average below {self.threshold} over the last {self.window} evaluation"
            f"{'s' if self.window != 1 else ''} (at least {self.min_evaluations})"
        )


class AgentAreaLock(models.Model):
    """One row per (coaching area, agent) a rule ever looked at: the rule engine locks these rows
    (`qa.locks.lock_agents_in_area`, in agent order) before it checks for an open session and
    creates one, so two workers evaluating the same agent at once take turns and the second sees
    the first's suggestion. A row lock works the same on PostgreSQL and (as the database-wide
    write lock of an IMMEDIATE transaction) on SQLite; and unlike a unique constraint it also
    covers an open session made through a group. A person's suggestion writes no row here: it
    shares the lock of `qa.locks.share_agents_in_area`, which a rule takes alone."""

    coaching_area = models.ForeignKey(
        CoachingArea, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["coaching_area", "agent"], name="uniq_agent_area_lock")
        ]

    def __str__(self) -> str:
        return f"agent {self.agent_id} in area {self.coaching_area_id}"


class EffectWindow(models.Model):
    """One (completed session, trainee user) pair's two windows (docs/effect.md, "Stored
    windows"): the count and sum of the scores before the start and after the completion, and the
    change. Written only by `qa.effect.refresh_effect_windows` (on completion, when evaluations
    arrive for the agent and area, and by `manage.py effect_windows`); a pair whose agent has no
    evaluation in the area has no row."""

    session = models.ForeignKey(  # indexed by the unique constraint
        "coaching.CoachingSession", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    agent = models.ForeignKey(  # indexed with the area
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    coaching_area = models.ForeignKey(CoachingArea, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()  # the session's start (the report's period)
    before_n = models.PositiveSmallIntegerField()
    before_sum = models.IntegerField()
    after_n = models.PositiveSmallIntegerField()
    after_sum = models.IntegerField()
    delta = models.FloatField(null=True)  # null below three evaluations on either side

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "agent"], name="uniq_effect_window"),
        ]
        indexes = [
            # the report: the period's pairs that have a change
            models.Index(
                fields=["starts_at", "coaching_area"],
                condition=Q(delta__isnull=False),
                name="effect_window_period",
            ),
            # evaluations arrived for an (agent, area): its pairs
            models.Index(fields=["agent", "coaching_area"], name="effect_window_agent_area"),
        ]

    def __str__(self) -> str:
        return f"session {self.session_id}, agent {self.agent_id}: {self.delta}"
