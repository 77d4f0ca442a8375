"""The Coaching widget: the homepage's sections, and the one section an agent's or a case's
analytics page shows. Each card carries the viewer's actions, so a button shows exactly when the
service would accept the click."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.urls import reverse

from directory.models import Case, User
from directory.permissions import Perm, Role, has_perm
from directory.selectors import role_names

from . import selectors
from .models import CoachingSession
from .policies import allowed_actions, suggest_denial

SECTION_LIMIT = 50


@dataclass
class Card:
    session: CoachingSession
    actions: dict[str, bool]


@dataclass
class Section:
    key: str
    title: str
    cards: list[Card]
    empty: str
    more: bool = False


@dataclass
class Widget:
    scope: str
    refresh_url: str
    suggest_url: str | None
    can_view: bool
    sections: list[Section] = field(default_factory=list)
    return_url: str = "/"


def _section(
    viewer: User, key: str, title: str, empty: str, qs: QuerySet[CoachingSession]
) -> Section:
    rows = list(selectors.with_related(qs)[: SECTION_LIMIT + 1])
    cards = [Card(s, allowed_actions(viewer, s)) for s in rows[:SECTION_LIMIT]]
    return Section(key, title, cards, empty, more=len(rows) > SECTION_LIMIT)


@dataclass(frozen=True)
class HomeSection:
    """A section of the homepage widget; an empty one shows only to whom `shown_empty` says."""

    key: str
    title: str
    empty: str
    sessions: Callable[[User], QuerySet[CoachingSession]]
    shown_empty: Callable[[User], bool]


def _has_role(role: Role) -> Callable[[User], bool]:
    return lambda viewer: role in role_names(viewer)


HOME_SECTIONS = (
    HomeSection(
        "authored",
        "My Suggestions",
        "You have not suggested a coaching session yet.",
        selectors.sessions_suggested_by,
        lambda viewer: suggest_denial(viewer) is None,
    ),
    HomeSection(
        "coach",
        "Suggested Coaching Sessions",
        "No suggested coaching sessions are waiting for you.",
        selectors.sessions_to_coach,
        _has_role(Role.COACH),
    ),
    HomeSection(
        "coach-scheduled",
        "Scheduled Coaching Sessions",
        "No coaching session is scheduled with you as coach.",
        selectors.sessions_scheduled_to_coach,
        _has_role(Role.COACH),
    ),
    HomeSection(
        "upcoming",
        "Upcoming Coaching Sessions",
        "No coaching session is coming up for you.",
        selectors.sessions_upcoming_for,
        _has_role(Role.AGENT),
    ),
    HomeSection(
        "acknowledge",
        "Waiting for Your Acknowledgement",
        "Nothing to acknowledge.",
        selectors.sessions_awaiting_acknowledgement,
        lambda viewer: False,  # shown only when there is something to acknowledge
    ),
    HomeSection(
        "trainee",
        "My Coaching Sessions",
        "No coaching sessions for you at the moment.",
        lambda viewer: selectors.sessions_for_trainee(viewer, viewer),
        _has_role(Role.AGENT),
    ),
)


def home_widget(viewer: User) -> Widget:
    can_view = has_perm(viewer, Perm.VIEW_SUGGESTIONS)
    new_url = reverse("session_new")
    widget = Widget(
        "home",
        reverse("coaching_widget"),
        new_url if suggest_denial(viewer) is None else None,
        can_view,
        return_url=reverse("home"),
    )
    if can_view:
        for spec in HOME_SECTIONS:
            section = _section(viewer, spec.key, spec.title, spec.empty, spec.sessions(viewer))
            if section.cards or spec.shown_empty(viewer):
                widget.sections.append(section)
    return widget


def _analytics_widget(
    viewer: User,
    *,
    scope: str,
    key: str,
    query: str,
    return_url: str,
    title: str,
    empty: str,
    sessions: QuerySet[CoachingSession],
) -> Widget:
    can_view = has_perm(viewer, Perm.VIEW_SUGGESTIONS)
    suggest_url = f"{reverse('session_new')}?{query}" if suggest_denial(viewer) is None else None
    widget = Widget(
        scope,
        f"{reverse('coaching_widget')}?{query}",
        suggest_url,
        can_view,
        return_url=return_url,
    )
    if can_view:
        widget.sections.append(_section(viewer, key, title, empty, sessions))
    return widget


def agent_widget(viewer: User, agent: User) -> Widget:
    """Agent Analytics: the sessions where that agent is a trainee."""
    return _analytics_widget(
        viewer,
        scope="agent",
        key="trainee",
        query=f"agent={agent.pk}",
        return_url=reverse("agent_analytics", args=[agent.pk]),
        title=f"Coaching sessions for {agent}",
        empty=f"No coaching sessions for {agent} yet.",
        sessions=selectors.sessions_for_trainee(viewer, agent),
    )


def case_widget(viewer: User, case: Case) -> Widget:
    """Case Analytics: the sessions that reference that case."""
    return _analytics_widget(
        viewer,
        scope="case",
        key="case",
        query=f"case={case.pk}",
        return_url=reverse("case_analytics", args=[case.pk]),
        title=f"Coaching sessions referencing {case.number}",
        empty=f"No coaching session references {case.number} yet.",
        sessions=selectors.sessions_for_case(viewer, case),
    )
