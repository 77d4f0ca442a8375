"""The audit trail of a coaching session, in one place: what a change records (a snapshot of the
form's fields, the difference between two snapshots), writing the event, and how an event reads
on the session page. Names are recorded beside ids, so history stays readable after a user,
group, area or case is gone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format

from core.timeutils import localized
from directory.models import User
from directory.parties import Party, party_summary

from .models import Action, CoachingSession, SessionEvent
from .rules import ResolvedFields

FIELD_LABELS = {
    "title": "Title",
    "coach": "Coach",
    "trainees": "Trainees",
    "coaching_area": "Coaching Area",
    "expires_at": "Expiry Time",
    "reference_cases": "Reference Cases",
    "starts_at": "Date and time",
    "duration_minutes": "Duration",
    "location": "Location",
    "reason": "Reason",
}
# Events whose changes are `[before, after]` pairs; the others record plain values.
PAIRED = (Action.EDITED, Action.SCHEDULED)
DATE_FORMAT = "M j, Y, H:i"


# --- what a change records -------------------------------------------------------------------
def snapshot(r: ResolvedFields) -> dict[str, Any]:
    """The form's fields as the audit trail records them."""
    coach: Party | None = r.coach_user if r.coach_user is not None else r.coach_group
    return {
        "title": r.title,
        "coach": party_summary(coach) if coach is not None else None,
        "trainees": [party_summary(u) for u in r.trainee_users]
        + [party_summary(g) for g in r.trainee_groups],
        "coaching_area": {"id": r.coaching_area.pk, "name": r.coaching_area.name}
        if r.coaching_area
        else None,
        "expires_at": r.expires_at.isoformat() if r.expires_at else None,
        "reference_cases": [{"id": c.pk, "number": c.number} for c in r.reference_cases],
    }


def _comparable(value: Any) -> Any:
    # Picking the same trainees or cases in another order changes nothing.
    return sorted(repr(x) for x in value) if isinstance(value, list) else value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for each field whose value changed."""
    return {
        k: [before.get(k), v]
        for k, v in after.items()
        if _comparable(before.get(k)) != _comparable(v)
    }


def record(
    session: CoachingSession,
    *,
    actor: User | None,
    action: Action,
    changes: dict[str, Any],
    now: datetime,
) -> SessionEvent:
    return SessionEvent.objects.create(
        session=session,
        at=now,
        actor=actor,
        actor_name=str(actor) if actor is not None else "System",
        action=action,
        changes=changes,
    )


# --- how an event reads ------------------------------------------------------------------------
def _value_text(name: str, value: Any) -> str:
    if value in (None, "", []):
        return "—"
    if isinstance(value, dict):  # a party or an area
        return str(value.get("name", ""))
    if isinstance(value, list):  # trainees or reference cases
        key = "number" if name == "reference_cases" else "name"
        return ", ".join(str(v.get(key, "")) for v in value if isinstance(v, dict))
    if name in ("expires_at", "starts_at") and isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None:
            return date_format(localized(moment), DATE_FORMAT)
    if name == "duration_minutes":
        return f"{value} minutes"
    return str(value)


def describe(event: SessionEvent) -> list[dict[str, str]]:
    """An event's changes as `{field, before, after}` lines for people to read."""
    lines = []
    for name, value in (event.changes or {}).items():
        label = FIELD_LABELS.get(name, name.replace("_", " ").capitalize())
        if event.action in PAIRED and isinstance(value, list) and len(value) == 2:
            before, after = _value_text(name, value[0]), _value_text(name, value[1])
        else:
            before, after = "", _value_text(name, value)
        lines.append({"field": label, "before": before, "after": after})
    return lines
