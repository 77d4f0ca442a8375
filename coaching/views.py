"""The coaching pages: homepage widget, the suggestion form (suggest, edit, schedule), decline and
delete dialogs, and the session page with its history.

Views translate HTTP to an access function, a selector or a service call and back; every rule
lives in `rules`, `policies` and the services, and every refusal they raise is answered by
`core.middleware.ApplicationErrorMiddleware`. With htmx a form answers with its own fragment
(re-rendered with errors, status 422) or, once done, with an `HX-Trigger: coaching:changed` event
that closes the dialog and refreshes the widget; without JavaScript the same URLs work as plain
pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from core.errors import FieldError, NotFound, ScheduleConflict, ValidationFailed
from core.http import AuthenticatedRequest, is_htmx
from core.pages import case_option, done, form_errors, party_option, safe_next
from directory.models import User
from directory.parties import PartyRef
from directory.policies import access_agent, access_case
from directory.selectors import active_coaching_areas, cases_by_ids, parties_by_tokens
from qa.effect import session_effect
from qa.effect import window as effect_window

from . import availability, selectors, services
from .availability import Clash
from .forms import (
    SCHEDULE_FIELDS,
    SESSION_FIELDS,
    FormMode,
    SessionForm,
    errors_by_field,
    parse_session_form,
    parse_when_where,
    to_local_input,
    with_rule_errors,
)
from .models import CoachingSession, Origin
from .policies import (
    Verb,
    access_session,
    allowed_actions,
    may_read_notes,
    require_view_suggestions,
    suggest_denial,
)
from .rules import DURATION_MAX, DURATION_MIN
from .selectors import Prefill
from .widget import agent_widget, case_widget, fill_sections, home_widget, section_of


# --- the coaching widget -----------------------------------------------------------------------
@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    return render(request, "coaching/home.html", {"widget": home_widget(request.user)})


@login_required
def widget_view(request: AuthenticatedRequest) -> HttpResponse:
    """The widget alone, for htmx to refresh it after a change."""
    viewer = request.user
    if (raw := request.GET.get("agent", "")).isdigit():
        widget = agent_widget(viewer, access_agent(viewer, int(raw)))
    elif (raw := request.GET.get("case", "")).isdigit():
        widget = case_widget(viewer, access_case(viewer, int(raw)))
    else:
        widget = home_widget(viewer)
    return render(request, "coaching/_widget.html", {"widget": widget})


@login_required
def section_view(request: AuthenticatedRequest, key: str) -> HttpResponse:
    """One section's cards from `?offset=`: the next page ("Show more"), or a folded section
    when it is opened. With htmx the cards alone; without, a page of its own."""
    viewer = request.user
    agent = case = None
    if (raw := request.GET.get("agent", "")).isdigit():
        agent = access_agent(viewer, int(raw))
        return_url = reverse("agent_analytics", args=[agent.pk])
    elif (raw := request.GET.get("case", "")).isdigit():
        case = access_case(viewer, int(raw))
        return_url = reverse("case_analytics", args=[case.pk])
    else:
        return_url = reverse("home")
    require_view_suggestions(viewer)
    section = section_of(viewer, key, agent=agent, case=case)
    if section is None:
        raise NotFound("There is no such section.")
    raw = request.GET.get("offset", "0")
    offset = min(int(raw), 10**9) if raw.isdigit() else 0
    section.folded = False  # opened
    fill_sections(viewer, [section], offset=offset)
    current = getattr(getattr(request, "htmx", None), "current_url_abs_path", None)
    if current and url_has_allowed_host_and_scheme(current, allowed_hosts=None):
        return_url = current  # the page the cards are on: edit and delete come back to it
    ctx = {"section": section, "return_url": return_url}
    if is_htmx(request):
        template = "coaching/_section_items.html" if offset else "coaching/_section_list.html"
        return render(request, template, ctx)
    return render(request, "coaching/section_page.html", ctx)


# --- the session page --------------------------------------------------------------------------
@login_required
def session_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    viewer = request.user
    session = access_session(viewer, pk)
    history = list(selectors.session_history(session))
    return render(
        request,
        "coaching/session_detail.html",
        {
            "session": session,
            "actions": allowed_actions(viewer, session),
            "history": history,
            "attendance": list(session.attendees.all()),
            "show_notes": may_read_notes(viewer, session),
            "effect": session_effect(session, viewer),
            "effect_window": effect_window(),
        },
    )


# --- the suggestion form -----------------------------------------------------------------------
MODES = {  # heading, submit button
    FormMode.SUGGEST: ("Suggest Session", "Suggest Session"),
    FormMode.EDIT: ("Edit Suggestion", "Save Changes"),
    FormMode.SCHEDULE: ("Schedule Session", "Schedule"),
}


def _form_context(
    request: AuthenticatedRequest,
    *,
    mode: FormMode,
    action: str,
    values: dict[str, Any],
    errors: list[FieldError] | None = None,
    session: CoachingSession | None = None,
    origin: str = Origin.HOMEPAGE,
    conflicts: list[Clash] | None = None,
) -> dict[str, Any]:
    known = SESSION_FIELDS + (SCHEDULE_FIELDS if mode == FormMode.SCHEDULE else ())
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
        "conflicts": conflicts or [],
        "similar": _similar_lines(
            request.user,
            [t["token"] for t in values.get("trainees", [])],
            str(values.get("coaching_area_id") or ""),
            session.pk if session is not None else None,
        ),
        **(
            _free_times(request, session, values)
            if mode == FormMode.SCHEDULE and session is not None
            else {}
        ),
    }


def _party_refs(tokens: list[str]) -> list[tuple[str, int]]:
    refs: list[tuple[str, int]] = []
    for token in tokens:
        try:
            ref = PartyRef.parse(token)
        except ValueError:
            continue
        refs.append((ref.type, ref.id))
    return refs


def _values_from_form(form: SessionForm) -> dict[str, Any]:
    """Re-show what was typed and picked (names looked up again from the tokens)."""
    d = form.data
    coach = parties_by_tokens(_party_refs([d["coach"]] if d["coach"] else []))
    trainees = parties_by_tokens(_party_refs(d["trainees"]))
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
        "allow_conflicts": d.get("allow_conflicts", False),
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


def _values_from_prefill(prefill: Prefill, tz_name: str | None) -> dict[str, Any]:
    return {
        "title": "",
        "coach": [],
        "trainees": [party_option(p) for p in prefill.trainee_objects],
        "coaching_area_id": "",
        "expires_at": to_local_input(prefill.expires_at, tz_name),
        "reference_cases": [case_option(c) for c in prefill.reference_cases],
    }


# --- the duplicate warning (decisions.md, "No duplicates") --------------------------------------
NAMES_SHOWN = 3


def _who(similar: selectors.Similar) -> tuple[str, str]:
    """ "Alice Agent has", "Tier 1 (group) has", "Alice Agent, Bob Agent and 3 others have"."""
    names = [str(u) for u in similar.users] + [f"{g.name} (group)" for g in similar.groups]
    if len(names) > NAMES_SHOWN + 1:
        more = len(names) - NAMES_SHOWN
        names = [*names[:NAMES_SHOWN], f"{more} others"]
    who = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return who, "has" if len(names) == 1 else "have"


def _similar_lines(
    viewer: User, tokens: list[str], area: str, exclude: int | None
) -> list[dict[str, Any]]:
    """The warning's lines for the picked trainees (groups expanded to their members now) and
    coaching area: nothing until both are chosen."""
    if not area.isdigit() or len(area) > 18 or not tokens:
        return []
    refs: list[PartyRef] = []
    for token in tokens:
        try:
            ref = PartyRef.parse(token)
        except ValueError:
            continue
        if ref.id < 2**63:  # the database's keys are 64-bit
            refs.append(ref)
    user_ids = selectors.trainee_user_ids(refs)
    if not user_ids:
        return []
    sessions = selectors.similar_open_sessions(
        viewer, coaching_area_id=int(area), user_ids=user_ids, exclude=exclude
    )
    found = selectors.similar_with_trainees(sessions, user_ids)
    lines = []
    for s in found:
        who, verb = _who(s)
        lines.append({"session": s.session, "who": who, "verb": verb})
    return lines


@login_required
@require_http_methods(["GET"])
def similar_warning(request: AuthenticatedRequest) -> HttpResponse:
    """The form's warning, asked for by htmx when trainees or the area change."""
    require_view_suggestions(request.user)
    raw = request.GET.get("exclude", "")
    lines = _similar_lines(
        request.user,
        request.GET.getlist("trainees"),
        request.GET.get("coaching_area_id", ""),
        int(raw) if raw.isdigit() and len(raw) < 19 else None,
    )
    return render(request, "coaching/_similar.html", {"similar": lines})


def _render_form(
    request: AuthenticatedRequest, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    template = (
        "coaching/_session_form.html" if is_htmx(request) else "coaching/session_form_page.html"
    )
    return render(request, template, ctx, status=status)


def _form_page(
    request: AuthenticatedRequest,
    *,
    mode: FormMode,
    initial: Callable[[], tuple[dict[str, Any], str]],
    run: Callable[[SessionForm], tuple[str, int]],
    session: CoachingSession | None = None,
) -> HttpResponse:
    """The suggestion form in any of its uses. GET shows it with the `initial()` values (and
    origin). POST parses it and, when it parses, runs the service (`run` answers the message and
    the session's id) and answers `done`; otherwise, or when the service refuses the values, the
    form comes back with every error at once (422): a field that did not parse, then the rules'
    errors for the rest. Any other refusal goes on to the middleware."""
    viewer = request.user
    action = request.path
    if request.method != "POST":
        values, origin = initial()
        ctx = _form_context(
            request, mode=mode, action=action, values=values, session=session, origin=origin
        )
        return _render_form(request, ctx)
    keep_expiry = session.expires_at if mode == FormMode.EDIT and session is not None else None
    form = parse_session_form(
        request.POST, tz_name=viewer.time_zone, mode=mode, keep_expiry=keep_expiry
    )
    author = session.suggested_by if session is not None else viewer
    errors: list[FieldError] = []
    conflicts: list[Clash] = []
    # A free time picked without JavaScript: the form comes back with it filled in.
    picked = bool(form.when and form.when.take_slot)
    if picked:
        pass
    elif form.errors:
        current = services.resolved_of(session) if session is not None else None
        errors = with_rule_errors(
            form, author=author, tz_name=viewer.time_zone, current=current, mode=mode
        )
    else:

        def attempt() -> HttpResponse:
            message, session_id = run(form)
            url = reverse("session_detail", args=[session_id])
            return done(request, message, safe_next(request, url))

        found = clashes_of(lambda: form_errors(attempt))
        if isinstance(found, HttpResponse):
            return found
        errors, conflicts = found
    values = _values_from_form(form)
    if mode == FormMode.SCHEDULE and session is not None:
        values["expires_at"] = to_local_input(session.expires_at, viewer.time_zone)
    ctx = _form_context(
        request,
        mode=mode,
        action=action,
        values=values,
        errors=errors,
        session=session,
        origin=form.origin,
        conflicts=conflicts,
    )
    return _render_form(request, ctx, status=200 if picked else 422)


def _prefill(request: AuthenticatedRequest) -> Prefill:
    """The form's starting values for the page it was opened from: an agent's or a case's, which
    the viewer must be able to open (as for the API's prefill), or the homepage."""
    viewer = request.user
    if (raw := request.GET.get("agent", "")).isdigit():
        agent = access_agent(viewer, int(raw), require_active=True)
        return selectors.prefill_for_agent(viewer, agent)
    if (raw := request.GET.get("case", "")).isdigit():
        return selectors.prefill_for_case(viewer, access_case(viewer, int(raw)))
    return selectors.prefill_for_homepage(viewer)


@login_required
@require_http_methods(["GET", "POST"])
def session_new(request: AuthenticatedRequest) -> HttpResponse:
    viewer = request.user
    if (refused := suggest_denial(viewer)) is not None:
        raise refused

    def initial() -> tuple[dict[str, Any], str]:
        prefill = _prefill(request)
        return _values_from_prefill(prefill, viewer.time_zone), prefill.origin

    def suggest(form: SessionForm) -> tuple[str, int]:
        session = services.session_suggest(actor=viewer, fields=form.fields, origin=form.origin)
        return f"Suggested “{session.title}”.", session.pk

    return _form_page(request, mode=FormMode.SUGGEST, initial=initial, run=suggest)


@login_required
@require_http_methods(["GET", "POST"])
def session_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    viewer = request.user
    session = access_session(viewer, pk, Verb.EDIT)

    def edit(form: SessionForm) -> tuple[str, int]:
        services.session_edit(actor=viewer, session_id=pk, fields=form.fields)
        return "Your changes are saved.", pk

    return _form_page(
        request,
        mode=FormMode.EDIT,
        initial=lambda: (_values_from_session(session, viewer.time_zone), session.origin),
        run=edit,
        session=session,
    )


@login_required
@require_http_methods(["GET", "POST"])
def session_schedule(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    viewer = request.user
    session = access_session(viewer, pk, Verb.SCHEDULE)

    def schedule(form: SessionForm) -> tuple[str, int]:
        services.session_schedule(
            actor=viewer,
            session_id=pk,
            starts_at=form.starts_at,
            duration_minutes=form.duration_minutes,
            location=form.location,
            fields=form.fields,
            allow_conflicts=bool(form.when and form.when.allow_conflicts),
        )
        return f"Scheduled “{session.title}”.", pk

    return _form_page(
        request,
        mode=FormMode.SCHEDULE,
        initial=lambda: (_values_from_session(session, viewer.time_zone), session.origin),
        run=schedule,
        session=session,
    )


def _dialog(
    request: AuthenticatedRequest, template: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    ctx = {**ctx, "as_page": not is_htmx(request), "next": safe_next(request, "")}
    if is_htmx(request):
        return render(request, template, ctx, status=status)
    return render(request, "coaching/dialog_page.html", {**ctx, "inner": template}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def session_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    session = access_session(request.user, pk, Verb.DELETE)
    if request.method == "POST":
        services.session_delete(actor=request.user, session_id=pk)
        url = reverse("session_detail", args=[pk])
        return done(request, f"Deleted the suggestion “{session.title}”.", safe_next(request, url))
    return _dialog(request, "coaching/_delete_dialog.html", {"session": session})


@login_required
@require_http_methods(["GET", "POST"])
def session_decline(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    session = access_session(request.user, pk, Verb.DECLINE)
    reason = request.POST.get("reason", "")
    if request.method == "POST":

        def decline() -> HttpResponse:
            services.session_decline(actor=request.user, session_id=pk, reason=reason)
            url = reverse("session_detail", args=[pk])
            return done(request, f"Declined “{session.title}”.", safe_next(request, url))

        errors = form_errors(decline)
        if isinstance(errors, HttpResponse):
            return errors
        error = " ".join(e.message for e in errors)
        ctx = {"session": session, "reason": reason, "error": error}
        return _dialog(request, "coaching/_decline_dialog.html", ctx, status=422)
    ctx = {"session": session, "reason": "", "error": ""}
    return _dialog(request, "coaching/_decline_dialog.html", ctx)


# --- after scheduling --------------------------------------------------------------------------
FREE_TIMES_SHOWN = 8


def clashes_of(
    run: Callable[[], HttpResponse | list[FieldError]],
) -> HttpResponse | tuple[list[FieldError], list[Clash]]:
    """Run a schedule or reschedule submission: its answer, or the field errors, or the clashes
    (shown above the form with "schedule anyway")."""
    try:
        result = run()
    except ScheduleConflict as conflict:
        return [], list(conflict.conflicts)
    if isinstance(result, HttpResponse):
        return result
    return result, []


def _free_times(
    request: AuthenticatedRequest, session: CoachingSession, values: dict[str, Any]
) -> dict[str, Any]:
    """The next free times of the coach and every trainee for the form's duration."""
    viewer = request.user
    raw = str(values.get("duration_minutes") or "")
    minutes = int(raw) if raw.isdigit() and DURATION_MIN <= int(raw) <= DURATION_MAX else None
    slots = availability.free_slots_for(
        viewer, session, duration_minutes=minutes, start=None, end=None, limit=FREE_TIMES_SHOWN
    )
    coach = session.coach_user
    return {
        "free_slots": [
            {"value": to_local_input(a, viewer.time_zone), "starts_at": a, "ends_at": b}
            for a, b in slots
        ],
        "free_slots_coach": str(coach) if coach is not None and coach.pk != viewer.pk else "",
    }


def _when_where_values(session: CoachingSession, tz_name: str | None) -> dict[str, Any]:
    return {
        "starts_at": to_local_input(session.starts_at, tz_name),
        "duration_minutes": str(session.duration_minutes or 30),
        "location": session.location,
        "allow_conflicts": False,
    }


@login_required
@require_http_methods(["GET", "POST"])
def session_reschedule(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    viewer = request.user
    session = access_session(viewer, pk, Verb.RESCHEDULE)
    template = "coaching/_reschedule_dialog.html"
    values = _when_where_values(session, viewer.time_zone)
    errors: list[FieldError] = []
    conflicts: list[Clash] = []
    status = 200
    if request.method == "POST":
        when = parse_when_where(request.POST, tz_name=viewer.time_zone)
        values = {**when.data}

        def reschedule() -> HttpResponse:
            if when.errors:
                raise ValidationFailed(when.errors)
            services.session_reschedule(
                actor=viewer,
                session_id=pk,
                starts_at=when.starts_at,
                duration_minutes=when.duration_minutes,
                location=when.location,
                allow_conflicts=when.allow_conflicts,
            )
            url = reverse("session_detail", args=[pk])
            return done(request, f"Moved “{session.title}”.", safe_next(request, url))

        if not when.take_slot:
            found = clashes_of(lambda: form_errors(reschedule))
            if isinstance(found, HttpResponse):
                return found
            errors, conflicts = found
            status = 422
    by_field, other = errors_by_field(errors, SCHEDULE_FIELDS)
    ctx = {
        "session": session,
        "values": values,
        "errors": by_field,
        "error_count": sum(len(v) for v in by_field.values()) + len(other),
        "conflicts": conflicts,
        **_free_times(request, session, values),
    }
    return _dialog(request, template, ctx, status=status)


@dataclass(frozen=True)
class TextDialog:
    """A dialog of text fields for a verb: its template, its fields, what it calls and what it
    says once done."""

    template: str
    fields: tuple[str, ...]
    run: Callable[[User, int, dict[str, str]], object]
    done: str


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


TEXT_DIALOGS = {
    Verb.CANCEL: TextDialog(
        "coaching/_cancel_dialog.html",
        ("reason",),
        lambda actor, pk, v: services.session_cancel(
            actor=actor, session_id=pk, reason=v["reason"]
        ),
        "Canceled “{title}”.",
    ),
    Verb.COMPLETE: TextDialog(
        "coaching/_complete_dialog.html",
        ("notes", "action_items"),
        lambda actor, pk, v: services.session_complete(
            actor=actor, session_id=pk, notes=v["notes"], action_items=_lines(v["action_items"])
        ),
        "Completed “{title}”.",
    ),
    Verb.ACKNOWLEDGE: TextDialog(
        "coaching/_acknowledge_dialog.html",
        ("comment",),
        lambda actor, pk, v: services.session_acknowledge(
            actor=actor, session_id=pk, comment=v["comment"]
        ),
        "Acknowledged “{title}”.",
    ),
}


def text_dialog(verb: Verb) -> Callable[[AuthenticatedRequest, int], HttpResponse]:
    """The view of a `TEXT_DIALOGS` entry: GET shows the dialog, POST runs the service and is
    done, or shows the dialog again with each refusal beside its field."""
    spec = TEXT_DIALOGS[verb]

    @login_required
    @require_http_methods(["GET", "POST"])
    def view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
        session = access_session(request.user, pk, verb)
        values = {name: request.POST.get(name, "") for name in spec.fields}

        def run() -> HttpResponse:
            spec.run(request.user, pk, values)
            url = reverse("session_detail", args=[pk])
            return done(request, spec.done.format(title=session.title), safe_next(request, url))

        status, errors = 200, []
        if request.method == "POST":
            result = form_errors(run)
            if isinstance(result, HttpResponse):
                return result
            status, errors = 422, result
        by_field: dict[str, list[str]] = {}
        for e in errors:
            by_field.setdefault(e.field.split("[", 1)[0], []).append(e.message)
        ctx = {
            "session": session,
            "values": values,
            "errors": by_field,
            "error_count": len(errors),
            "show_notes": may_read_notes(request.user, session),
        }
        return _dialog(request, spec.template, ctx, status=status)

    return view


session_cancel = text_dialog(Verb.CANCEL)
session_complete = text_dialog(Verb.COMPLETE)
session_acknowledge = text_dialog(Verb.ACKNOWLEDGE)
