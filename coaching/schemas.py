"""Coaching sessions as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from coaching.models import CoachingSession, Origin, SessionEvent
from coaching.policies import allowed_actions
from coaching.rules import PartyRef, SessionFields
from coaching.selectors import Prefill
from config.api_common import BodyId, BodyInt, InputTime, Out, Text, Time
from directory.models import User, UserGroup
from directory.schemas import UserOut

StateName = Literal["suggested", "scheduled", "canceled"]
OriginName = Literal["homepage", "agent_analytics", "case_analytics"]
CancelReasonName = Literal[
    "deleted_by_supervisor", "declined_by_coach", "declined_by_trainee", "expired"
]


# --- input ---------------------------------------------------------------------------------------
class PartyIn(BaseModel):
    type: Literal["user", "group"]
    id: BodyId

    def ref(self) -> PartyRef:
        return PartyRef(self.type, self.id)


class SuggestIn(BaseModel):
    title: Text
    coach: PartyIn
    trainees: list[PartyIn]
    coaching_area_id: BodyId
    expires_at: InputTime | None = Field(
        None, description="Defaults to now + 3 calendar months; at most 1 year ahead."
    )
    reference_case_ids: list[BodyId] = Field(default_factory=list)
    origin: OriginName = "homepage"

    def fields(self) -> SessionFields:
        return SessionFields(
            title=self.title,
            coach=self.coach.ref(),
            trainees=[t.ref() for t in self.trainees],
            coaching_area_id=self.coaching_area_id,
            expires_at=self.expires_at,
            reference_case_ids=list(self.reference_case_ids),
        )


class OverridesIn(BaseModel):
    """Form fields; each one left out (or null) keeps its current value."""

    title: Text | None = None
    coach: PartyIn | None = None
    trainees: list[PartyIn] | None = None
    coaching_area_id: BodyId | None = None
    reference_case_ids: list[BodyId] | None = None

    def fields(self) -> SessionFields:
        return SessionFields(
            title=self.title,
            coach=self.coach.ref() if self.coach else None,
            trainees=[t.ref() for t in self.trainees] if self.trainees is not None else None,
            coaching_area_id=self.coaching_area_id,
            reference_case_ids=list(self.reference_case_ids)
            if self.reference_case_ids is not None
            else None,
        )


class EditIn(OverridesIn):
    expires_at: InputTime | None = None
    version: BodyInt | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="The version you edited; like If-Match, a mismatch answers 412.",
    )

    def fields(self) -> SessionFields:
        fields = super().fields()
        fields.expires_at = self.expires_at
        return fields


class ScheduleIn(OverridesIn):
    starts_at: InputTime = Field(description="In the future.")
    duration_minutes: BodyInt = Field(description="5 to 360.")
    location: Text = ""


class DeclineIn(BaseModel):
    reason: Text = Field(description="Why, 1-1000 characters.")


# --- output --------------------------------------------------------------------------------------
class PartyOut(Out):
    type: Literal["user", "group"]
    id: int
    name: str


class AreaOut(Out):
    id: int
    name: str


class CaseRefOut(Out):
    id: int
    number: str


class ScheduleOut(Out):
    starts_at: Time
    duration_minutes: int
    location: str
    scheduled_by: UserOut | None


class CancellationOut(Out):
    reason: CancelReasonName
    note: str
    by: UserOut | None
    at: Time


class ActionsOut(Out):
    edit: bool
    delete: bool
    schedule: bool
    decline: bool


class SessionOut(Out):
    id: int
    title: str
    state: StateName
    coach: PartyOut
    trainees: list[PartyOut]
    coaching_area: AreaOut
    expires_at: Time
    reference_cases: list[CaseRefOut]
    suggested_by: UserOut | None
    suggested_by_name: str
    origin: OriginName
    created_at: Time
    updated_at: Time
    version: int
    schedule: ScheduleOut | None
    cancellation: CancellationOut | None
    actions: ActionsOut = Field(description="What the caller may do to this session now.")


class SessionPage(Out):
    items: list[SessionOut]
    count: int


class PrefillOut(Out):
    trainees: list[PartyOut]
    reference_case_ids: list[int]
    reference_cases: list[CaseRefOut]
    expires_at: Time
    origin: OriginName


class HistoryItemOut(Out):
    at: Time
    actor: UserOut | None
    actor_name: str
    action: str
    changes: dict[str, Any]


class HistoryOut(Out):
    items: list[HistoryItemOut]


def party(obj: User | UserGroup) -> dict[str, Any]:
    return {
        "type": PartyRef.of(obj).type,
        "id": obj.pk,
        "name": obj.name if isinstance(obj, UserGroup) else str(obj),
    }


def session_out(session: CoachingSession, viewer: User, now: datetime) -> dict[str, Any]:
    """The contract's Session. Expects `selectors.with_related` (no query per session)."""
    state = session.effective_state
    schedule = None
    if session.starts_at is not None and session.duration_minutes is not None:
        schedule = {
            "starts_at": session.starts_at,
            "duration_minutes": session.duration_minutes,
            "location": session.location,
            "scheduled_by": session.scheduled_by,
        }
    cancellation = None
    if state == "canceled":
        cancellation = {
            "reason": session.effective_cancel_reason,
            "note": session.cancel_note,
            "by": session.canceled_by,
            "at": session.effective_canceled_at,
        }
    return {
        "id": session.pk,
        "title": session.title,
        "state": state,
        "coach": party(session.coach),
        "trainees": [party(u) for u in session.trainee_users.all()]
        + [party(g) for g in session.trainee_groups.all()],
        "coaching_area": session.coaching_area,
        "expires_at": session.expires_at,
        "reference_cases": list(session.reference_cases.all()),
        "suggested_by": session.suggested_by,
        "suggested_by_name": session.suggested_by_name,
        "origin": session.origin,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "version": session.version,
        "schedule": schedule,
        "cancellation": cancellation,
        "actions": allowed_actions(viewer, session, now),
    }


def prefill_out(prefill: Prefill) -> dict[str, Any]:
    return {
        "trainees": [party(o) for o in prefill.trainee_objects],
        "reference_case_ids": list(prefill.reference_case_ids),
        "reference_cases": list(prefill.reference_cases),
        "expires_at": prefill.expires_at,
        "origin": prefill.origin,
    }


def event_out(event: SessionEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "actor": event.actor,
        "actor_name": event.actor_name,
        "action": event.action,
        "changes": event.changes or {},
    }


__all__ = ["Origin"]
