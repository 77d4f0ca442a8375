"""Coaching sessions as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, create_model

from coaching.models import Action, CancelReason, CoachingSession, Origin, SessionEvent, State
from coaching.policies import Verb, allowed_actions, may_read_notes
from coaching.rules import SessionFields
from coaching.selectors import Prefill, prefetched
from config.api_common import BodyId, BodyInt, InputTime, Out, Text, Time, json_time
from directory.models import User
from directory.parties import PartyRef, PartyType, party_summary
from directory.schemas import UserOut, user_json


# --- input ---------------------------------------------------------------------------------------
class PartyIn(BaseModel):
    type: PartyType
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
    origin: Origin = Origin.HOMEPAGE

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


ALLOW_CONFLICTS = Field(
    False,
    description="Schedule anyway when the coach or a trainee already has a scheduled session "
    "at that time (otherwise 409 schedule_conflict lists each clash).",
)


class ScheduleIn(OverridesIn):
    starts_at: InputTime = Field(description="In the future, at most 24 months ahead (setting).")
    duration_minutes: BodyInt = Field(description="5 to 360.")
    location: Text = ""
    allow_conflicts: bool = ALLOW_CONFLICTS


class RescheduleIn(BaseModel):
    starts_at: InputTime = Field(description="In the future.")
    duration_minutes: BodyInt = Field(description="5 to 360.")
    location: Text | None = Field(None, description="Left out: the location stays.")
    allow_conflicts: bool = ALLOW_CONFLICTS


class DeclineIn(BaseModel):
    reason: Text = Field(description="Why, 1-1000 characters.")


class CancelIn(BaseModel):
    reason: Text = Field(description="Why, 1-1000 characters; quoted in the notification.")


class CompleteIn(BaseModel):
    notes: Text = Field(description="What was covered, 1-5000 characters.")
    action_items: list[Text] = Field(
        default_factory=list, description="At most 20, each 1-500 characters."
    )


class AcknowledgeIn(BaseModel):
    comment: Text | None = Field(None, description="Optional, at most 1000 characters.")


# --- output --------------------------------------------------------------------------------------
class PartyOut(Out):
    type: PartyType
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
    reason: CancelReason
    note: str
    by: UserOut | None
    at: Time


if TYPE_CHECKING:

    class ActionsOut(Out):
        pass

else:
    # One field per `Verb`: a new verb is in every session's `actions` at once.
    ActionsOut = create_model(
        "ActionsOut",
        __base__=Out,
        **{
            verb.value: (bool, Field(description=f"May the caller {verb} it now?")) for verb in Verb
        },
    )


class AcknowledgementOut(Out):
    user: UserOut
    at: Time
    comment: str


class CompletionOut(Out):
    at: Time
    by: UserOut | None
    notes: str | None = Field(
        description="Null for viewers other than the coach, the trainees, the author, QM Admins."
    )
    action_items: list[str] | None = Field(description="Null where `notes` is.")
    acknowledgements: list[AcknowledgementOut]


class SlotOut(Out):
    starts_at: Time
    ends_at: Time


class FreeSlotsOut(Out):
    items: list[SlotOut]


class ConflictOut(Out):
    user: UserOut
    session_id: int | None = Field(description="Null where the caller may not see that session.")
    title: str | None = Field(description="Null where the caller may not see that session.")
    starts_at: Time
    ends_at: Time


class SessionOut(Out):
    id: int
    title: str
    state: State
    coach: PartyOut
    trainees: list[PartyOut]
    coaching_area: AreaOut
    expires_at: Time
    reference_cases: list[CaseRefOut]
    suggested_by: UserOut | None
    suggested_by_name: str
    origin: Origin
    created_at: Time
    updated_at: Time
    version: int
    schedule: ScheduleOut | None
    cancellation: CancellationOut | None
    completion: CompletionOut | None
    calendar_uid: str | None = Field(description="The iCalendar UID, once scheduled.")
    actions: ActionsOut = Field(description="What the caller may do to this session now.")


class SessionPage(Out):
    items: list[SessionOut]
    count: int


class PrefillOut(Out):
    trainees: list[PartyOut]
    reference_case_ids: list[int]
    reference_cases: list[CaseRefOut]
    expires_at: Time
    origin: Origin


class HistoryItemOut(Out):
    at: Time
    actor: UserOut | None
    actor_name: str
    action: Action
    changes: dict[str, Any]


class HistoryOut(Out):
    items: list[HistoryItemOut]


def session_out(session: CoachingSession, viewer: User, now: datetime) -> dict[str, Any]:
    """The contract's Session in JSON terms (`answer_json`; ninja reads it as well). Expects
    `selectors.with_related` (no query per session)."""
    state = session.effective_state
    schedule = None
    if session.starts_at is not None and session.duration_minutes is not None:
        schedule = {
            "starts_at": json_time(session.starts_at),
            "duration_minutes": session.duration_minutes,
            "location": session.location,
            "scheduled_by": user_json(session.scheduled_by),
        }
    cancellation = None
    if state == State.CANCELED:
        canceled_at = session.effective_canceled_at
        assert canceled_at is not None  # a check constraint: session_cancel_reason_iff_canceled
        cancellation = {
            "reason": str(session.effective_cancel_reason),
            "note": session.cancel_note,
            "by": user_json(session.canceled_by),
            "at": json_time(canceled_at),
        }
    completion = None
    if session.state == State.COMPLETED and session.completed_at is not None:
        readable = may_read_notes(viewer, session)
        completion = {
            "at": json_time(session.completed_at),
            "by": user_json(session.completed_by),
            "notes": session.completion_notes if readable else None,
            "action_items": list(session.action_items or []) if readable else None,
            "acknowledgements": [
                {
                    "user": user_json(a.user),
                    "at": json_time(a.acknowledged_at),
                    "comment": a.acknowledgement_comment,
                }
                for a in sorted(
                    (a for a in prefetched(session, "attendees") if a.acknowledged_at is not None),
                    key=lambda a: (a.acknowledged_at, a.pk),
                )
            ],
        }
    area = session.coaching_area
    return {
        "id": session.pk,
        "title": session.title,
        "state": str(state),
        "coach": party_summary(session.coach),
        "trainees": [party_summary(u) for u in prefetched(session, "trainee_users")]
        + [party_summary(g) for g in prefetched(session, "trainee_groups")],
        "coaching_area": {"id": area.pk, "name": area.name},
        "expires_at": json_time(session.expires_at),
        "reference_cases": [
            {"id": c.pk, "number": c.number} for c in prefetched(session, "reference_cases")
        ],
        "suggested_by": user_json(session.suggested_by),
        "suggested_by_name": session.suggested_by_name,
        "origin": str(session.origin),
        "created_at": json_time(session.created_at),
        "updated_at": json_time(session.updated_at),
        "version": session.version,
        "schedule": schedule,
        "cancellation": cancellation,
        "completion": completion,
        "calendar_uid": str(session.calendar_uid) if session.calendar_uid else None,
        "actions": allowed_actions(viewer, session, now),
    }


def prefill_out(prefill: Prefill) -> dict[str, Any]:
    return {
        "trainees": [party_summary(o) for o in prefill.trainee_objects],
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
