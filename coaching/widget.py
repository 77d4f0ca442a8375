"""The Coaching widget: the homepage's sections, and the one section an agent's or a case's
analytics page shows. Each section shows its true count and a page of cards (the next ones load in
place, `coaching.views.section_view`); each card carries the viewer's actions, so a button shows
exactly when the service would accept the click."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from core import shapes
from core.shapes import Args, Bound, Shape
from directory.models import Case, User
from directory.permissions import Perm, Role, has_perm
from directory.selectors import role_names

from . import selectors
from .models import CoachingSession
from .policies import allowed_actions, suggest_denial

# Cards per section and per "Show more": a section shows its true count and loads the next page
# in place, so a page costs the same whatever the number of sessions behind it.
PAGE_SIZE = 10


@dataclass
class Card:
    session: CoachingSession
    actions: dict[str, bool]


@dataclass
class Section:
    key: str
    title: str
    empty: str
    sessions: Bound  # the section's sessions, ordered (`SECTIONS`)
    scope_query: str = ""  # "agent=<id>" or "case=<id>" on an analytics page
    shown: bool = True  # shown even when empty
    folded: bool = False  # past items: a closed disclosure, loaded when opened
    count: int = 0
    offset: int = 0
    cards: list[Card] = field(default_factory=list)

    def url(self, offset: int = 0) -> str:
        query = "&".join(q for q in (self.scope_query, f"offset={offset}" if offset else "") if q)
        base = reverse("coaching_section", args=[self.key])
        return f"{base}?{query}" if query else base

    @property
    def next_offset(self) -> int:
        return self.offset + len(self.cards)

    @property
    def remaining(self) -> int:
        return max(0, self.count - self.next_offset)

    @property
    def next_count(self) -> int:
        return min(PAGE_SIZE, self.remaining)

    @property
    def next_url(self) -> str:
        return self.url(self.next_offset)


@dataclass
class Widget:
    scope: str
    refresh_url: str
    suggest_url: str | None
    can_view: bool
    sections: list[Section] = field(default_factory=list)
    return_url: str = "/"


def fill_sections(viewer: User, sections: list[Section], *, offset: int = 0) -> None:
    """True counts of every section in one query; a page of cards of each unfolded one; the
    people, groups, areas and cases of all those cards in one more query."""
    for section, count in zip(sections, shapes.counts([s.sessions for s in sections]), strict=True):
        section.count = count
        section.offset = offset
    rows: list[CoachingSession] = []
    for section in sections:
        if section.folded or section.count <= offset:
            continue
        page = section.sessions.rows(limit=PAGE_SIZE, offset=offset)
        section.cards = [Card(s, {}) for s in page]
        rows += page
    selectors.load_related(rows, viewer)
    now = timezone.now()
    for section in sections:
        for card in section.cards:
            card.actions = allowed_actions(viewer, card.session, now)


# Each section's sessions, compiled once per process for each kind of viewer (`core.shapes`).
def _now(a: Args) -> datetime:
    return a.times["now"]


def _section(name: str, build: Callable[[Args], QuerySet[CoachingSession]]) -> Shape:
    return Shape(f"coaching.section.{name}", CoachingSession, build)


SECTIONS: dict[str, Shape] = {
    "authored": _section(
        "authored", lambda a: selectors.sessions_suggested_by_open(a.viewer, _now(a))
    ),
    "authored-past": _section(
        "authored-past", lambda a: selectors.sessions_suggested_by_past(a.viewer, _now(a))
    ),
    "coach": _section("coach", lambda a: selectors.sessions_to_coach(a.viewer, _now(a))),
    "coach-scheduled": _section(
        "coach-scheduled",
        lambda a: selectors.sessions_scheduled_to_coach(a.viewer, _now(a), since=a.times["since"]),
    ),
    "upcoming": _section(
        "upcoming",
        lambda a: selectors.sessions_upcoming_for(
            a.viewer,
            _now(a),
            as_trainee_only=bool(a.options["as_trainee_only"]),
            since=a.times["since"],
        ),
    ),
    "acknowledge": _section(
        "acknowledge", lambda a: selectors.sessions_awaiting_acknowledgement(a.viewer, _now(a))
    ),
    "trainee": _section(
        "trainee", lambda a: selectors.sessions_for_trainee_current(a.viewer, a.viewer, _now(a))
    ),
    "trainee-past": _section(
        "trainee-past",
        lambda a: selectors.sessions_for_trainee_past(a.viewer, a.viewer, _now(a)),
    ),
    "agent": _section(
        "agent",
        lambda a: selectors.sessions_for_trainee(a.viewer, User(pk=a.ids["agent"]), _now(a)),
    ),
    "case": _section(
        "case", lambda a: selectors.sessions_for_case(a.viewer, Case(pk=a.ids["case"]), _now(a))
    ),
}


def _bound(
    name: str,
    viewer: User,
    now: datetime,
    *,
    agent: int | None = None,
    case: int | None = None,
    **options: Any,
) -> Bound:
    return SECTIONS[name].bind(
        viewer=viewer,
        options=options,
        ids={"agent": ("user", agent), "case": ("case", case)},
        times={"now": now, "since": selectors.possibly_running_since(now)},
    )


def _sections(
    viewer: User, *, agent: User | None = None, case: Case | None = None
) -> list[Section]:
    """Every section the widget may show `viewer`, in order; those with `shown=False` appear only
    when they have sessions."""
    now = timezone.now()
    if agent is not None:
        return [
            Section(
                "trainee",
                f"Coaching sessions for {agent}",
                f"No coaching sessions for {agent} yet.",
                _bound("agent", viewer, now, agent=agent.pk),
                scope_query=f"agent={agent.pk}",
            )
        ]
    if case is not None:
        return [
            Section(
                "case",
                f"Coaching sessions referencing {case.number}",
                f"No coaching session references {case.number} yet.",
                _bound("case", viewer, now, case=case.pk),
                scope_query=f"case={case.pk}",
            )
        ]
    roles = role_names(viewer)
    can_create = suggest_denial(viewer) is None
    return [
        Section(
            "authored",
            "My Suggestions",
            "You have no open suggestion."
            if can_create
            else "You have not suggested a coaching session yet.",
            _bound("authored", viewer, now),
            shown=can_create,
        ),
        Section(
            "authored-past",
            "My past suggestions",
            "None yet.",
            _bound("authored-past", viewer, now),
            shown=False,
            folded=True,
        ),
        Section(
            "coach",
            "Suggested Coaching Sessions",
            "No suggested coaching sessions are waiting for you.",
            _bound("coach", viewer, now),
            shown=Role.COACH in roles,
        ),
        Section(
            "coach-scheduled",
            "Scheduled Coaching Sessions",
            "No coaching session is scheduled with you as coach.",
            _bound("coach-scheduled", viewer, now),
            shown=Role.COACH in roles,
        ),
        Section(
            "upcoming",
            "Upcoming Coaching Sessions",
            "No coaching session is coming up for you.",
            # A coach's own sessions are under "Scheduled Coaching Sessions": not twice.
            _bound("upcoming", viewer, now, as_trainee_only=Role.COACH in roles),
            shown=Role.AGENT in roles,
        ),
        Section(
            "acknowledge",
            "Waiting for Your Acknowledgement",
            "Nothing to acknowledge.",
            _bound("acknowledge", viewer, now),
            shown=False,  # shown only when there is something to acknowledge
        ),
        Section(
            "trainee",
            "My Coaching Sessions",
            "No coaching sessions for you at the moment.",
            _bound("trainee", viewer, now),
            shown=Role.AGENT in roles,
        ),
        Section(
            "trainee-past",
            "My past coaching sessions",
            "None yet.",
            _bound("trainee-past", viewer, now),
            shown=False,
            folded=True,
        ),
    ]


def coaching_widget(viewer: User, *, agent: User | None = None, case: Case | None = None) -> Widget:
    """The Coaching widget as `viewer` may see it, on the homepage, an agent's or a case's page."""
    can_view = has_perm(viewer, Perm.VIEW_SUGGESTIONS)
    can_create = suggest_denial(viewer) is None
    widget_url = reverse("coaching_widget")
    new_url = reverse("session_new")
    if agent is not None:
        scope, query, return_url = (
            "agent",
            f"agent={agent.pk}",
            reverse("agent_analytics", args=[agent.pk]),
        )
    elif case is not None:
        scope, query, return_url = (
            "case",
            f"case={case.pk}",
            reverse("case_analytics", args=[case.pk]),
        )
    else:
        scope, query, return_url = "home", "", reverse("home")
    widget = Widget(
        scope,
        f"{widget_url}?{query}" if query else widget_url,
        (f"{new_url}?{query}" if query else new_url) if can_create else None,
        can_view,
        return_url=return_url,
    )
    if not can_view:
        return widget
    sections = _sections(viewer, agent=agent, case=case)
    fill_sections(viewer, sections)
    widget.sections = [s for s in sections if s.count or (s.shown and not s.folded)]
    return widget


def home_widget(viewer: User) -> Widget:
    return coaching_widget(viewer)


def agent_widget(viewer: User, agent: User) -> Widget:
    """Agent Analytics: the sessions where that agent is a trainee."""
    return coaching_widget(viewer, agent=agent)


def case_widget(viewer: User, case: Case) -> Widget:
    """Case Analytics: the sessions that reference that case."""
    return coaching_widget(viewer, case=case)


def section_of(viewer: User, key: str, *, agent: User | None, case: Case | None) -> Section | None:
    return next((s for s in _sections(viewer, agent=agent, case=case) if s.key == key), None)
