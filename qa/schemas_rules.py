"""Coaching rules as the API reads and writes them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from coaching.schemas import PartyIn, PartyOut
from config.api_common import BodyId, BodyInt, Out, Text, Time
from directory.parties import party_summary

from .models import (
    EXPIRES_MAX_DAYS,
    EXPIRES_MIN_DAYS,
    NAME_MAX,
    THRESHOLD_MAX,
    THRESHOLD_MIN,
    WINDOW_MAX,
    WINDOW_MIN,
    CoachingRule,
)
from .rules import RuleFields


def _name(*default: Any) -> Any:
    return Field(*default, description=f"1-{NAME_MAX} characters, unique (ignoring case).")


def _threshold(*default: Any) -> Any:
    return Field(
        *default,
        ge=THRESHOLD_MIN,
        le=THRESHOLD_MAX,
        description="Fires when the average score is below this (an average exactly at it "
        "does not).",
    )


def _window(*default: Any) -> Any:
    return Field(
        *default,
        ge=WINDOW_MIN,
        le=WINDOW_MAX,
        description="The agent's last N evaluations in the area.",
    )


def _min_evaluations(*default: Any) -> Any:
    return Field(
        *default,
        ge=WINDOW_MIN,
        le=WINDOW_MAX,
        description="At least M of them (M <= window) for the rule to fire.",
    )


def _expires(*default: Any) -> Any:
    return Field(
        *default,
        ge=EXPIRES_MIN_DAYS,
        le=EXPIRES_MAX_DAYS,
        description="A rule-made suggestion expires this many days after the rule made it.",
    )


def _coach(*default: Any) -> Any:
    return Field(*default, description="One user or one user group (active, with active members).")


class RuleIn(BaseModel):
    name: Text = _name()
    coaching_area_id: BodyId
    threshold: BodyInt = _threshold()
    window: BodyInt = _window()
    min_evaluations: BodyInt = _min_evaluations()
    coach: PartyIn = _coach()
    expires_in_days: BodyInt = _expires()
    active: bool = True

    def fields(self) -> RuleFields:
        return _fields(self)


class RulePatchIn(BaseModel):
    """Each field left out (or null) keeps its value."""

    name: Text | None = _name(None)
    coaching_area_id: BodyId | None = None
    threshold: BodyInt | None = _threshold(None)
    window: BodyInt | None = _window(None)
    min_evaluations: BodyInt | None = _min_evaluations(None)
    coach: PartyIn | None = _coach(None)
    expires_in_days: BodyInt | None = _expires(None)
    active: bool | None = None

    def fields(self) -> RuleFields:
        return _fields(self)


def _fields(payload: RuleIn | RulePatchIn) -> RuleFields:
    """The body as the rules read it (a field left out of a PATCH is None: kept)."""
    values = payload.model_dump(exclude={"coach"})
    return RuleFields(**values, coach=payload.coach.ref() if payload.coach is not None else None)


class RuleOut(Out):
    id: int
    name: str
    coaching_area_id: int
    threshold: int
    window: int
    min_evaluations: int
    coach: PartyOut
    expires_in_days: int
    active: bool
    created_at: Time
    last_run_at: Time | None = Field(
        description="The last evaluation of the rule (on arrival, in the daily sweep)."
    )
    suggestions_created: int = Field(description="Suggestions this rule has made so far.")


class RulePage(Out):
    items: list[RuleOut]
    count: int


def rule_out(rule: CoachingRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "name": rule.name,
        "coaching_area_id": rule.coaching_area_id,
        "threshold": rule.threshold,
        "window": rule.window,
        "min_evaluations": rule.min_evaluations,
        "coach": party_summary(rule.coach),
        "expires_in_days": rule.expires_in_days,
        "active": rule.active,
        "created_at": rule.created_at,
        "last_run_at": rule.last_run_at,
        "suggestions_created": rule.suggestions_created,
    }
