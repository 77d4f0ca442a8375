"""Template helpers for coaching sessions: the state badge (labels from the model's enums) and
an audit event's changes as people read them (`coaching.audit`)."""

from __future__ import annotations

from django import template

from coaching import audit
from coaching.models import CancelReason, CoachingSession, SessionEvent, State

register = template.Library()


@register.inclusion_tag("partials/state_badge.html")
def state_badge(session: CoachingSession) -> dict[str, str]:
    """The state as everyone reads it: a canceled session shows why (a suggestion past its
    expiry shows as Expired)."""
    state = State(session.effective_state)
    if state == State.CANCELED:
        reason = CancelReason(session.effective_cancel_reason)
        css = "expired" if reason == CancelReason.EXPIRED else "canceled"
        return {"label": str(reason.label), "css": css}
    return {"label": str(state.label), "css": state.value}


@register.filter
def event_changes(event: SessionEvent) -> list[dict[str, str]]:
    return audit.describe(event)
