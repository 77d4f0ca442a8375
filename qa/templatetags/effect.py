"""How a change in QA score reads on a page: signed, one decimal, and in words."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.safestring import SafeString, mark_safe

from core.markup import DATE, esc, time_element, url_with_id
from directory.models import User
from qa.effect import AgentSessionEffect, may_view_report

register = template.Library()


def _direction(value: float) -> tuple[float, int]:
    """The change rounded as shown (one decimal) and its sign: what the number, the words and
    the colour all follow."""
    rounded = round(value, 1)
    return rounded, (rounded > 0) - (rounded < 0)


@register.filter
def signed(value: float | None) -> str:
    """+4.2, −3.0 (a true minus sign), 0.0; an en dash for none."""
    if value is None:
        return "–"
    rounded, sign = _direction(value)
    return {1: f"+{rounded:.1f}", -1: f"−{abs(rounded):.1f}", 0: "0.0"}[sign]


@register.filter
def change_words(value: float | None) -> str:
    """What a screen reader hears for the change (the number beside it is hidden from it)."""
    if value is None:
        return "Not enough evaluations yet"
    rounded, sign = _direction(value)
    return {1: f"up {rounded:.1f} points", -1: f"down {abs(rounded):.1f} points", 0: "no change"}[
        sign
    ]


@register.filter
def trend_class(value: float | None) -> str:
    """The score colours: green up, red down (the words say it too)."""
    if value is None:
        return ""
    return {1: "score-high", -1: "score-low", 0: ""}[_direction(value)[1]]


@register.filter
def one_decimal(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


@register.filter
def sees_reports(user: User) -> bool:
    """The navigation's Reports link: supervisors and QM Admins."""
    return bool(getattr(user, "is_authenticated", False)) and may_view_report(user)


def _change(delta: float | None) -> str:
    if delta is None:
        return '<span class="muted">Not enough evaluations yet</span>'
    return (
        f'<span class="score {trend_class(delta)}"><span aria-hidden="true">{signed(delta)}</span>'
        f'<span class="visually-hidden">{change_words(delta)}</span></span>'
    )


@register.simple_tag
def change(delta: float | None) -> SafeString:
    """A change as the tables show it: the signed number for the eye, the words for a screen
    reader, the colour of its direction."""
    return mark_safe(_change(delta))  # noqa: S308 - numbers and fixed words only


@register.simple_tag
def agent_effect_rows(effects: Iterable[AgentSessionEffect]) -> SafeString:
    """The Agent Analytics page's rows of completed sessions, written in Python (`core.markup`):
    through the template engine they were a tenth of the page's time."""
    out = []
    for e in effects:
        out.append(
            "      <tr>\n"
            f'        <th scope="row"><a href="{url_with_id("session_detail", e.session_id)}">'
            f"{esc(e.title)}</a></th>\n"
            f'        <td><span class="stack-label">Area: </span>{esc(e.coaching_area)}</td>\n'
            '        <td><span class="stack-label">Held: </span>'
            f"{time_element(e.starts_at, DATE)}</td>\n"
            '        <td><span class="stack-label">Before: </span>'
            f'{one_decimal(e.before.mean)} <span class="muted">({e.before.n})</span></td>\n'
            '        <td><span class="stack-label">After: </span>'
            f'{one_decimal(e.after.mean)} <span class="muted">({e.after.n})</span></td>\n'
            f'        <td><span class="stack-label">Change: </span>{_change(e.delta)}</td>\n'
            "      </tr>\n"
        )
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped
