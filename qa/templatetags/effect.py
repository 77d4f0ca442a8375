"""How a change in QA score reads on a page: signed, one decimal, and in words."""

from __future__ import annotations

from django import template

from directory.models import User
from qa.effect import may_view_report

register = template.Library()


@register.filter
def signed(value: float | None) -> str:
    """+4.2, −3.0 (a true minus sign), 0.0; an en dash for none."""
    if value is None:
        return "–"
    rounded = round(value, 1)
    if rounded > 0:
        return f"+{rounded:.1f}"
    if rounded < 0:
        return f"−{abs(rounded):.1f}"
    return "0.0"


@register.filter
def change_words(value: float | None) -> str:
    """What a screen reader hears for the change (the arrow beside it is hidden from it)."""
    if value is None:
        return "Not enough evaluations yet"
    rounded = round(value, 1)
    if rounded > 0:
        return f"up {rounded:.1f} points"
    if rounded < 0:
        return f"down {abs(rounded):.1f} points"
    return "no change"


@register.filter
def trend_class(value: float | None) -> str:
    """The score colours: green up, red down (the words say it too)."""
    if value is None:
        return ""
    rounded = round(value, 1)
    return "score-high" if rounded > 0 else "score-low" if rounded < 0 else ""


@register.filter
def one_decimal(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


@register.filter
def sees_reports(user: User) -> bool:
    """The navigation's Reports link: supervisors and QM Admins."""
    return bool(getattr(user, "is_authenticated", False)) and may_view_report(user)
