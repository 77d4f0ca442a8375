"""A session card as the homepage, the analytics pages and "Show more" show it.

Rendered here rather than by a template: a page shows up to a few dozen cards, and the template
engine spent about a millisecond on each (a variable lookup chain per field, a `{% url %}` per
button); this writes the same markup in a tenth of that. The markup, its landmarks and labels are
those the browser and accessibility tests check (`tests/browser`).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.safestring import SafeString, mark_safe

from core.markup import DAY, LONG, SHORT, esc, time_element, url_with_id
from core.templatetags.times import timeuntil_filter
from core.templatetags.ui import with_next

from .models import CancelReason, CoachingSession, Origin, State
from .selectors import prefetched

# The card's buttons in the order they appear: (verb, label, button style, url name).
BUTTONS = (
    ("edit", "Edit", "btn-secondary", "session_edit"),
    ("delete", "Delete", "btn-danger-quiet", "session_delete"),
    ("decline", "Decline", "btn-secondary", "session_decline"),
    ("acknowledge", "Acknowledge", "btn-primary", "session_acknowledge"),
    ("cancel", "Cancel", "btn-danger-quiet", "session_cancel"),
    ("reschedule", "Reschedule", "btn-secondary", "session_reschedule"),
    ("complete", "Complete", "btn-primary", "session_complete"),
    ("schedule", "Schedule", "btn-primary", "session_schedule"),
)


def state_badge_parts(session: CoachingSession) -> tuple[str, str]:
    """(label, css) of the state as everyone reads it: a canceled session shows why (a
    suggestion past its expiry shows as Expired)."""
    state = State(session.effective_state)
    if state == State.CANCELED:
        reason = CancelReason(session.effective_cancel_reason)
        return str(reason.label), "expired" if reason == CancelReason.EXPIRED else "canceled"
    return str(state.label), state.value


def _group_tag() -> str:
    return ' <span class="tag tag-group">Group</span>'


def render_card(
    s: CoachingSession, actions: Mapping[str, bool], section_key: str, return_url: str
) -> SafeString:
    pk, title = s.pk, esc(s.title)
    state = s.effective_state
    label, css = state_badge_parts(s)
    title_id = f"s{pk}-{esc(section_key)}-title"
    detail = url_with_id("session_detail", pk)
    out = [
        f'<article class="session-card state-{state}" aria-labelledby="{title_id}" '
        f'data-session-id="{pk}">\n  <header class="session-card-head">\n'
        f'    <h4 id="{title_id}"><a href="{detail}">{title}</a></h4>\n'
        f'    <span class="badge badge-{css}">{esc(label)}</span>\n  </header>\n'
        '  <dl class="facts">\n'
        f"    <div><dt>Coach</dt><dd>{esc(s.coach_name)}"
        f"{_group_tag() if s.coach_group_id else ''}</dd></div>\n"
    ]
    trainees: list[str] = [esc(str(t)) for t in prefetched(s, "trainee_users")]
    trainees += [f"{esc(g.name)}{_group_tag()}" for g in prefetched(s, "trainee_groups")]
    out.append(f"    <div><dt>Trainees</dt><dd>{', '.join(trainees)}</dd></div>\n")
    out.append(f"    <div><dt>Coaching Area</dt><dd>{esc(s.coaching_area.name)}</dd></div>\n")
    if state == State.SCHEDULED:
        where = f" · {esc(s.location)}" if s.location else ""
        out.append(
            f"    <div><dt>Scheduled for</dt><dd>{time_element(s.starts_at, LONG)} · "
            f"{s.duration_minutes} min{where}</dd></div>\n"
        )
    elif state == State.COMPLETED:
        out.append(
            f"    <div><dt>Held</dt><dd>{time_element(s.starts_at, LONG)} · "
            f"{s.duration_minutes} min</dd></div>\n"
        )
    elif state == State.SUGGESTED:
        out.append(
            f"    <div><dt>Expiry Time</dt><dd>{time_element(s.expires_at, SHORT)} "
            f'<span class="muted">(in {esc(timeuntil_filter(s.expires_at))})</span></dd></div>\n'
        )
    else:
        note = f" · “{esc(s.cancel_note)}”" if s.cancel_note else ""
        out.append(
            f"    <div><dt>Canceled</dt><dd>{time_element(s.effective_canceled_at, SHORT)}"
            f"{note}</dd></div>\n"
        )
    cases = prefetched(s, "reference_cases")
    if cases:
        links = ", ".join(
            f'<a href="{url_with_id("case_analytics", c.pk)}">{esc(c.number)}</a>' for c in cases
        )
        out.append(f"    <div><dt>Reference Cases</dt><dd>{links}</dd></div>\n")
    rule = " (coaching rule)" if s.origin == Origin.RULE else ""
    out.append(
        f"    <div><dt>Suggested by</dt><dd>{esc(s.suggested_by_name)}{rule} · "
        f"{time_element(s.created_at, DAY)}</dd></div>\n  </dl>\n"
        '  <div class="card-actions">\n'
        f'    <a class="btn btn-quiet btn-sm" href="{detail}">View'
        f'<span class="visually-hidden"> “{title}”</span></a>\n'
    )
    for verb, text, style, name in BUTTONS:
        if actions.get(verb):
            u = esc(with_next(url_with_id(name, pk), return_url))
            out.append(
                f'    <a class="btn {style} btn-sm" href="{u}" hx-get="{u}" '
                f'hx-target="#modal-body" data-opens-modal>{text}'
                f'<span class="visually-hidden"> “{title}”</span></a>\n'
            )
    out.append("  </div>\n</article>")
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped
