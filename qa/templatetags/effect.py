"""How a change in QA score reads on a page: signed, one decimal, and in words."""

from __future__ import annotations

from django import template

from directory.models import User
from qa.effect import may_view_report

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
