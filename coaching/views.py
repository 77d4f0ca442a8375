"""The coaching pages: homepage widget, the suggestion form (suggest, edit, schedule), decline and
delete dialogs, and the session page with its history.

Views translate HTTP to a selector or service call and back; every rule lives in `rules`,
`policies` and the services. With htmx a form answers with its own fragment (re-rendered with
errors, status 422) or, once done, with an `HX-Trigger: coaching:changed` event that closes the
dialog and refreshes the widget; without JavaScript the same URLs work as plain pages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from core.errors import ApplicationError, FieldError, NotFound, ValidationFailed
from core.http import is_htmx
from directory.models import Case, User, UserGroup
from directory.permissions import Perm, Role, has_perm, role_names
from directory.policies import may_view_agent_page, may_view_case_page
from directory.selectors import active_coaching_areas, cases_by_ids, parties_by_tokens

from . import selectors, services
from .forms import (
    SCHEDULE_FIELDS,
    SESSION_FIELDS,
    SessionForm,
    errors_by_field,
    parse_session_form,
    to_local_input,
    with_rule_errors,
)
from .models import CoachingSession, Origin
from .policies import allowed_actions
from .rules import PartyRef


# --- small helpers shared by the pages ---------------------------------------------------------
def problem(
    request: HttpRequest, status: int, message: str, title: str | None = None
) -> HttpResponse:
    """A refusal as a page, or as a dialog fragment when htmx asked (the dialog shows it)."""
    titles = {
        403: "You may not do this",
        404: "Not found",
        409: "This can no longer be done",
        412: "Changed meanwhile",
    }
    ctx = {
        "status": status,
        "title": title or titles.get(status, "Something went wrong"),
        "message": message,
    }
    template = (
        "partials/problem.html"
        if is_htmx(request)
        else f"{status if status in (403, 404) else 'problem'}.html"
    )
    if not is_htmx(request) and status in (403, 404):
        ctx["exception"] = message
    return render(request, template, ctx, status=status)


def from_error(request: HttpRequest, err: ApplicationError) -> HttpResponse:
    return problem(request, err.status, err.message)


def safe_next(request: HttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def done(request: HttpRequest, message: str, url: str) -> HttpResponse:
    """After a change: htmx closes the dialog and refreshes what shows sessions; a plain request
    follows the redirect and sees the message."""
    if is_htmx(request):
        response = HttpResponse("")
        response["HX-Reswap"] = "none"
        response["HX-Trigger"] = json.dumps({"coaching:changed": {"message": message, "url": url}})
        return response
    messages.success(request, message)
    return HttpResponseRedirect(url)


def party_option(obj: User | UserGroup) -> dict[str, Any]:
    """How a user or group shows as an option or a picked chip."""
    if isinstance(obj, UserGroup):
        count = getattr(obj, "member_count", None)
        detail = "User group" if count is None else f"{count} member{'s' if count != 1 else ''}"
        return {
            "token": PartyRef.of(obj).token,
            "label": obj.name,
            "detail": detail,
            "kind": "group",
        }
    return {
        "token": PartyRef.of(obj).token,
        "label": str(obj),
        "detail": obj.username,
        "kind": "user",
    }


def case_option(case: Case) -> dict[str, Any]:
    return {"token": str(case.pk), "label": case.number, "detail": case.subject, "kind": "case"}


def _parse_tokens(tokens: list[str]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for token in tokens:
        try:
            ref = PartyRef.parse(token)
        except ValueError:
            continue
        out.append((ref.type, ref.id))
    return out


# --- the coaching widget -----------------------------------------------------------------------
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
    sessions: Any  # the section's sessions, ordered (a queryset)
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


def _fill(viewer: User, sections: list[Section], *, offset: int = 0) -> None:
    """True counts of every section in one query; a page of cards of each unfolded one; the
    people, groups, areas and cases of all those cards in one more query."""
    for section, count in zip(
        sections, selectors.counts([s.sessions for s in sections]), strict=True
    ):
        section.count = count
        section.offset = offset
    rows: list[CoachingSession] = []
    for section in sections:
        if section.folded or section.count <= offset:
            continue
        page = list(section.sessions[offset : offset + PAGE_SIZE])
        section.cards = [Card(s, {}) for s in page]
        rows += page
    selectors.load_related(rows)
    now = timezone.now()
    for section in sections:
        for card in section.cards:
            card.actions = allowed_actions(viewer, card.session, now)


def _sections(
    viewer: User, *, agent: User | None = None, case: Case | None = None
) -> list[Section]:
    """Every section the widget may show `viewer`, in order; those with `shown=False` appear only
    when they have sessions."""
    if agent is not None:
        return [
            Section(
                "trainee",
                f"Coaching sessions for {agent}",
                f"No coaching sessions for {agent} yet.",
                selectors.sessions_for_trainee(viewer, agent),
                scope_query=f"agent={agent.pk}",
            )
        ]
    if case is not None:
        return [
            Section(
                "case",
                f"Coaching sessions referencing {case.number}",
                f"No coaching session references {case.number} yet.",
                selectors.sessions_for_case(viewer, case),
                scope_query=f"case={case.pk}",
            )
        ]
    roles = role_names(viewer)
    can_create = has_perm(viewer, Perm.CREATE_SUGGESTIONS)
    return [
        Section(
            "authored",
            "My Suggestions",
            "You have no open suggestion."
            if can_create
            else "You have not suggested a coaching session yet.",
            selectors.sessions_suggested_by_open(viewer),
            shown=can_create,
        ),
        Section(
            "authored-past",
            "My past suggestions",
            "None yet.",
            selectors.sessions_suggested_by_past(viewer),
            shown=False,
            folded=True,
        ),
        Section(
            "coach",
            "Suggested Coaching Sessions",
            "No suggested coaching sessions are waiting for you.",
            selectors.sessions_to_coach(viewer),
            shown=Role.COACH in roles,
        ),
        Section(
            "coach-scheduled",
            "Scheduled Coaching Sessions",
            "No coaching session is scheduled with you as coach.",
            selectors.sessions_scheduled_to_coach(viewer),
            shown=Role.COACH in roles,
        ),
        Section(
            "trainee",
            "My Coaching Sessions",
            "No coaching sessions for you at the moment.",
            selectors.sessions_for_trainee_current(viewer, viewer),
            shown=Role.AGENT in roles,
        ),
        Section(
            "trainee-past",
            "My past coaching sessions",
            "None yet.",
            selectors.sessions_for_trainee_past(viewer, viewer),
            shown=False,
            folded=True,
        ),
    ]


def coaching_widget(viewer: User, *, agent: User | None = None, case: Case | None = None) -> Widget:
    """The Coaching widget as `viewer` may see it, on the homepage, an agent's or a case's page."""
    can_view = has_perm(viewer, Perm.VIEW_SUGGESTIONS)
    can_create = has_perm(viewer, Perm.CREATE_SUGGESTIONS)
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
    _fill(viewer, sections)
    widget.sections = [s for s in sections if s.count or (s.shown and not s.folded)]
    return widget


def _scope(request: HttpRequest) -> tuple[User | None, Case | None, HttpResponse | None]:
    """The agent or case a widget request is about (`?agent=` / `?case=`), or a refusal."""
    viewer: User = request.user  # type: ignore[assignment]
    if (raw := request.GET.get("agent", "")).isdigit():
        agent = User.objects.filter(pk=int(raw)).first()
        if agent is None:
            return None, None, problem(request, 404, "There is no such agent.")
        if not may_view_agent_page(viewer, agent):
            return (
                None,
                None,
                problem(request, 403, "You need the View Analytics permission to see this agent."),
            )
        return agent, None, None
    if (raw := request.GET.get("case", "")).isdigit():
        case = Case.objects.filter(pk=int(raw)).first()
        if case is None:
            return None, None, problem(request, 404, "There is no such case.")
        if not may_view_case_page(viewer, case):
            return (
                None,
                None,
                problem(request, 403, "You need the View Analytics permission to see this case."),
            )
        return None, case, None
    return None, None, None


@login_required
def home(request: HttpRequest) -> HttpResponse:
    widget = coaching_widget(request.user)  # type: ignore[arg-type]
    return render(request, "coaching/home.html", {"widget": widget})


@login_required
def widget_view(request: HttpRequest) -> HttpResponse:
    """The widget alone, for htmx to refresh it after a change."""
    agent, case, refused = _scope(request)
    if refused is not None:
        return refused
    widget = coaching_widget(request.user, agent=agent, case=case)  # type: ignore[arg-type]
    return render(request, "coaching/_widget.html", {"widget": widget})


@login_required
def section_view(request: HttpRequest, key: str) -> HttpResponse:
    """One section's cards from `?offset=`: the next page ("Show more"), or a folded section
    when it is opened. With htmx the cards alone; without, a page of its own."""
    viewer: User = request.user  # type: ignore[assignment]
    if not has_perm(viewer, Perm.VIEW_SUGGESTIONS):
        return problem(request, 403, "You need the View Suggestions permission to see sessions.")
    agent, case, refused = _scope(request)
    if refused is not None:
        return refused
    section = next((s for s in _sections(viewer, agent=agent, case=case) if s.key == key), None)
    if section is None:
        return problem(request, 404, "There is no such section.")
    raw = request.GET.get("offset", "0")
    offset = min(int(raw), 10**9) if raw.isdigit() else 0
    section.folded = False  # opened
    _fill(viewer, [section], offset=offset)
    if agent is not None:
        return_url = reverse("agent_analytics", args=[agent.pk])
    elif case is not None:
        return_url = reverse("case_analytics", args=[case.pk])
    else:
        return_url = reverse("home")
    current = getattr(getattr(request, "htmx", None), "current_url_abs_path", None)
    if current and url_has_allowed_host_and_scheme(current, allowed_hosts=None):
        return_url = current  # the page the cards are on: edit and delete come back to it
    ctx = {"section": section, "return_url": return_url, "items_only": offset > 0}
    if is_htmx(request):
        return render(
            request,
            "coaching/_section_items.html" if offset else "coaching/_section_list.html",
            ctx,
        )
    return render(request, "coaching/section_page.html", ctx)


# --- the session page --------------------------------------------------------------------------
@login_required
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    try:
        session = selectors.session_for(viewer, pk)
    except NotFound as err:
        return from_error(request, err)
    history = list(selectors.session_history(session))
    return render(
        request,
        "coaching/session_detail.html",
        {"session": session, "actions": allowed_actions(viewer, session), "history": history},
    )


# --- the suggestion form -----------------------------------------------------------------------
MODES = {
    "suggest": ("Suggest Session", "Suggest Session"),
    "edit": ("Edit Suggestion", "Save Changes"),
    "schedule": ("Schedule Session", "Schedule"),
}


def _form_context(
    request: HttpRequest,
    *,
    mode: str,
    action: str,
    values: dict[str, Any],
    errors: list[Any] | None = None,
    session: CoachingSession | None = None,
    origin: str = Origin.HOMEPAGE,
) -> dict[str, Any]:
    known = SESSION_FIELDS + (SCHEDULE_FIELDS if mode == "schedule" else ())
    by_field, other = errors_by_field(errors or [], known)
    areas = list(active_coaching_areas())
    if session is not None and session.coaching_area not in areas:
        areas.append(session.coaching_area)
    heading, submit = MODES[mode]
    return {
        "mode": mode,
        "heading": heading,
        "submit_label": submit,
        "action": action,
        "values": values,
        "errors": by_field,
        "other_errors": other,
        "error_count": sum(len(v) for v in by_field.values()) + len(other),
        "areas": areas,
        "session": session,
        "origin": origin,
        "next": safe_next(request, ""),
    }


def _values_from_form(form: SessionForm) -> dict[str, Any]:
    """Re-show what was typed and picked (names looked up again from the tokens)."""
    d = form.data
    party_tokens = _parse_tokens([d["coach"]] if d["coach"] else [])
    coach = parties_by_tokens(party_tokens)
    trainees = parties_by_tokens(_parse_tokens(d["trainees"]))
    case_ids = [int(c) for c in d["reference_case_ids"] if c.isdigit()]
    return {
        "title": d["title"],
        "coach": [party_option(p) for p in coach],
        "trainees": [party_option(p) for p in trainees],
        "coaching_area_id": d["coaching_area_id"],
        "expires_at": d["expires_at"],
        "reference_cases": [case_option(c) for c in cases_by_ids(case_ids)],
        "starts_at": d["starts_at"],
        "duration_minutes": d["duration_minutes"],
        "location": d["location"],
    }


def _values_from_session(session: CoachingSession, tz_name: str | None) -> dict[str, Any]:
    coach = session.coach
    return {
        "title": session.title,
        "coach": [party_option(coach)] if coach is not None else [],
        "trainees": [party_option(u) for u in session.trainee_users.all()]
        + [party_option(g) for g in session.trainee_groups.all()],
        "coaching_area_id": str(session.coaching_area_id),
        "expires_at": to_local_input(session.expires_at, tz_name),
        "reference_cases": [case_option(c) for c in session.reference_cases.all()],
        "starts_at": "",
        "duration_minutes": "30",
        "location": "",
    }


def _render_form(request: HttpRequest, ctx: dict[str, Any], status: int = 200) -> HttpResponse:
    template = (
        "coaching/_session_form.html" if is_htmx(request) else "coaching/session_form_page.html"
    )
    return render(request, template, ctx, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def session_new(request: HttpRequest) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    if not has_perm(viewer, Perm.CREATE_SUGGESTIONS):
        return problem(
            request, 403, "You need the Create Suggestions permission to suggest a session."
        )
    action = reverse("session_new")
    tz_name = viewer.time_zone
    if request.method == "POST":
        origin = request.POST.get("origin", Origin.HOMEPAGE)
        if origin not in Origin.values:
            origin = Origin.HOMEPAGE
        form = parse_session_form(request.POST, tz_name=tz_name, mode="suggest")

        def suggest() -> HttpResponse:
            session = services.session_suggest(actor=viewer, fields=form.fields, origin=origin)
            url = reverse("session_detail", args=[session.pk])
            return done(request, f"Suggested “{session.title}”.", safe_next(request, url))

        errors = _submit(request, form, suggest, author=viewer)
        if isinstance(errors, HttpResponse):
            return errors
        ctx = _form_context(
            request,
            mode="suggest",
            action=action,
            values=_values_from_form(form),
            errors=errors,
            origin=origin,
        )
        return _render_form(request, ctx, status=422)

    if (raw := request.GET.get("agent", "")).isdigit():
        agent = User.objects.filter(pk=int(raw), is_active=True).first()
        if agent is None:
            return problem(request, 404, "There is no such agent.")
        prefill = selectors.prefill_for_agent(viewer, agent)
    elif (raw := request.GET.get("case", "")).isdigit():
        case = Case.objects.filter(pk=int(raw)).first()
        if case is None:
            return problem(request, 404, "There is no such case.")
        prefill = selectors.prefill_for_case(viewer, case)
    else:
        prefill = selectors.prefill_for_homepage(viewer)
    values = {
        "title": "",
        "coach": [],
        "trainees": [party_option(p) for p in prefill.trainee_objects],
        "coaching_area_id": "",
        "expires_at": to_local_input(prefill.expires_at, tz_name),
        "reference_cases": [case_option(c) for c in prefill.reference_cases],
    }
    ctx = _form_context(
        request, mode="suggest", action=action, values=values, origin=prefill.origin
    )
    return _render_form(request, ctx)


def _submit(
    request: HttpRequest,
    form: SessionForm,
    run: Callable[[], HttpResponse],
    *,
    author: User | None,
    mode: str = "suggest",
    session: CoachingSession | None = None,
) -> HttpResponse | list[FieldError]:
    """The one way a form reaches its service: a form that did not even parse gets the rules'
    errors for every field at once; otherwise the service runs (`run` answers its success), and
    its field errors come back for the form, any other refusal as an error page."""
    viewer: User = request.user  # type: ignore[assignment]
    if form.errors:
        current = services.resolved_of(session) if session is not None else None
        return with_rule_errors(
            form, author=author, tz_name=viewer.time_zone, current=current, mode=mode
        )
    try:
        return run()
    except ValidationFailed as err:
        return err.errors
    except ApplicationError as err:
        return from_error(request, err)


def _session_or_problem(request: HttpRequest, pk: int) -> CoachingSession | HttpResponse:
    try:
        return selectors.session_for(request.user, pk)  # type: ignore[arg-type]
    except NotFound as err:
        return from_error(request, err)


def _refusal(request: HttpRequest, session: CoachingSession, action: str) -> HttpResponse | None:
    """Why `action` is refused (state first: a closed suggestion is 409 for everyone), or None."""
    from .policies import decline_denial, manage_denial, schedule_denial, state_denial

    viewer = request.user
    if allowed_actions(viewer, session)[action]:  # type: ignore[arg-type]
        return None
    denial = {
        "edit": manage_denial,
        "delete": manage_denial,
        "schedule": schedule_denial,
        "decline": decline_denial,
    }[action](viewer, session)  # type: ignore[arg-type]
    err = denial or state_denial(session)
    assert err is not None
    return from_error(request, err)


@login_required
@require_http_methods(["GET", "POST"])
def session_edit(request: HttpRequest, pk: int) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    session = _session_or_problem(request, pk)
    if isinstance(session, HttpResponse):
        return session
    if (refused := _refusal(request, session, "edit")) is not None:
        return refused
    action = reverse("session_edit", args=[pk])
    if request.method == "POST":
        form = parse_session_form(
            request.POST, tz_name=viewer.time_zone, mode="edit", keep_expiry=session.expires_at
        )

        def edit() -> HttpResponse:
            services.session_edit(actor=viewer, session_id=pk, fields=form.fields)
            url = reverse("session_detail", args=[pk])
            return done(request, "Your changes are saved.", safe_next(request, url))

        errors = _submit(request, form, edit, author=session.suggested_by, session=session)
        if isinstance(errors, HttpResponse):
            return errors
        ctx = _form_context(
            request,
            mode="edit",
            action=action,
            values=_values_from_form(form),
            errors=errors,
            session=session,
        )
        return _render_form(request, ctx, status=422)
    values = _values_from_session(session, viewer.time_zone)
    ctx = _form_context(request, mode="edit", action=action, values=values, session=session)
    return _render_form(request, ctx)


@login_required
@require_http_methods(["GET", "POST"])
def session_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    session = _session_or_problem(request, pk)
    if isinstance(session, HttpResponse):
        return session
    if (refused := _refusal(request, session, "schedule")) is not None:
        return refused
    action = reverse("session_schedule", args=[pk])
    if request.method == "POST":
        form = parse_session_form(request.POST, tz_name=viewer.time_zone, mode="schedule")

        def schedule() -> HttpResponse:
            services.session_schedule(
                actor=viewer,
                session_id=pk,
                starts_at=form.starts_at,
                duration_minutes=form.duration_minutes,
                location=form.location,
                fields=form.fields,
            )
            url = reverse("session_detail", args=[pk])
            return done(request, f"Scheduled “{session.title}”.", safe_next(request, url))

        errors = _submit(
            request, form, schedule, author=session.suggested_by, mode="schedule", session=session
        )
        if isinstance(errors, HttpResponse):
            return errors
        values = _values_from_form(form)
        values["expires_at"] = to_local_input(session.expires_at, viewer.time_zone)
        ctx = _form_context(
            request, mode="schedule", action=action, values=values, errors=errors, session=session
        )
        return _render_form(request, ctx, status=422)
    values = _values_from_session(session, viewer.time_zone)
    ctx = _form_context(request, mode="schedule", action=action, values=values, session=session)
    return _render_form(request, ctx)


def _dialog(
    request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    ctx = {**ctx, "as_page": not is_htmx(request), "next": safe_next(request, "")}
    if is_htmx(request):
        return render(request, template, ctx, status=status)
    return render(request, "coaching/dialog_page.html", {**ctx, "inner": template}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def session_delete(request: HttpRequest, pk: int) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    session = _session_or_problem(request, pk)
    if isinstance(session, HttpResponse):
        return session
    if (refused := _refusal(request, session, "delete")) is not None:
        return refused
    if request.method == "POST":
        try:
            services.session_delete(actor=viewer, session_id=pk)
        except ApplicationError as err:
            return from_error(request, err)
        url = reverse("session_detail", args=[pk])
        return done(request, f"Deleted the suggestion “{session.title}”.", safe_next(request, url))
    return _dialog(request, "coaching/_delete_dialog.html", {"session": session})


@login_required
@require_http_methods(["GET", "POST"])
def session_decline(request: HttpRequest, pk: int) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    session = _session_or_problem(request, pk)
    if isinstance(session, HttpResponse):
        return session
    if (refused := _refusal(request, session, "decline")) is not None:
        return refused
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            services.session_decline(actor=viewer, session_id=pk, reason=reason)
        except ValidationFailed as err:
            errors = err.errors
        except ApplicationError as err:
            return from_error(request, err)
        else:
            url = reverse("session_detail", args=[pk])
            return done(request, f"Declined “{session.title}”.", safe_next(request, url))
        error = " ".join(e.message for e in errors)
        return _dialog(
            request,
            "coaching/_decline_dialog.html",
            {"session": session, "reason": reason, "error": error},
            status=422,
        )
    return _dialog(
        request, "coaching/_decline_dialog.html", {"session": session, "reason": "", "error": ""}
    )
