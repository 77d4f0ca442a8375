"""Markup that pages repeat per row, written in Python rather than by the template engine.

A page of cards or notifications repeats the same few pieces dozens of times: a URL with an id,
a `<time>`, a CSRF field. Through the template engine each costs a variable lookup chain, a
`reverse()` or a `date` filter that reads its format through the translation machinery; here
each is a string join. The text is the same as the template's (pinned by tests/web/test_cards.py
against Django's `date` filter)."""

from __future__ import annotations

import html
from datetime import datetime
from functools import cache

from django.urls import reverse
from django.utils import translation
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR

from core.timeutils import localized


def esc(value: object) -> str:
    """`django.utils.html.escape` of a value, as plain text for a row's markup (marked safe
    once, whole): the same characters escaped the same way (it is `html.escape` of `str()`),
    without the lazy-text check Django's decorator makes on every call (a third of a card's
    cost)."""
    return html.escape(str(value))


_PK = 918273645  # a placeholder id, reversed once per URL name and process


@cache
def _url_pattern(name: str) -> tuple[str, str]:
    before, after = reverse(name, args=[_PK]).split(str(_PK))
    return before, after


def url_with_id(name: str, pk: int) -> str:
    """`reverse(name, args=[pk])` for a URL whose only argument is an id: reversing costs more
    than the rest of a row's markup, and a row has several."""
    before, after = _url_pattern(name)
    return f"{before}{pk}{after}"


# The formats rows use, as the `date` filter spells them.
LONG, SHORT, DATE, DAY = "D, M j, Y · H:i", "M j, Y · H:i", "M j, Y", "M j"


def time_parts(moment: datetime | None, fmt: str) -> tuple[str, str]:
    """(the `datetime` attribute, the text) of a `<time>`: `{{ t|date:"c" }}` and
    `{{ t|date:FORMAT }}`, in the viewer's zone, with the same fallback to UTC for a moment that
    has no local time, and nothing for a moment that cannot be written."""
    if moment is None:
        return "", ""
    try:
        t = localized(moment)
        iso = t.isoformat()
    except (OverflowError, ValueError):
        return "", ""
    months, weekdays = _names(translation.get_language())
    month = months[t.month - 1]
    if fmt == DAY:
        return iso, f"{month} {t.day}"
    if fmt == DATE:
        return iso, f"{month} {t.day}, {t.year}"
    text = f"{month} {t.day}, {t.year} · {t.hour:02}:{t.minute:02}"
    if fmt == LONG:
        text = f"{weekdays[t.weekday()]}, {text}"
    return iso, text


@cache
def _names(language: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The month and weekday abbreviations the `date` filter writes (`M`, `D`), translated once
    per language rather than twice per time written."""
    with translation.override(language):
        return (
            tuple(str(MONTHS_3[m]).title() for m in range(1, 13)),
            tuple(str(WEEKDAYS_ABBR[d]) for d in range(7)),
        )


def time_element(moment: datetime | None, fmt: str) -> str:
    iso, text = time_parts(moment, fmt)
    return f'<time datetime="{iso}">{esc(text)}</time>'


def csrf_field(token: object) -> str:
    """What `{% csrf_token %}` writes, for a token read once per page (`get_token`)."""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(token)}">'
