"""Template helpers for coaching sessions: the state badge (labels from the model's enums) and
an audit event's changes as people read them (`coaching.audit`)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from coaching import audit
from coaching.cards import render_card, state_badge_parts
from coaching.models import CoachingSession, SessionEvent
from coaching.widget import Card

register = template.Library()


@register.inclusion_tag("partials/state_badge.html")
def state_badge(session: CoachingSession) -> dict[str, str]:
    """The state as everyone reads it (`cards.state_badge_parts`)."""
    label, css = state_badge_parts(session)
    return {"label": label, "css": css}


@register.simple_tag
def session_card(card: Card, section_key: str, return_url: str) -> SafeString:
    """A session card with the viewer's buttons (`coaching.cards`)."""
    return render_card(card.session, card.actions, section_key, return_url)


@register.filter
def event_changes(event: SessionEvent) -> list[dict[str, str]]:
    return audit.describe(event)
