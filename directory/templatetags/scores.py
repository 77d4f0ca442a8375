"""QA scores as the analytics pages list them, written in Python (`core.markup`): the agent's
recent evaluated cases were, through the template engine, a tenth of the page's time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from core.markup import DATE, esc, time_element, url_with_id
from directory.models import Evaluation

register = template.Library()

LOW, HIGH = 70, 85  # below LOW reads as low (red), from HIGH as high (green)


def _score_list(scores: Iterable[tuple[str, int]]) -> str:
    """(area name, score) pairs."""
    items = []
    for area, score in scores:
        css = "score-low" if score < LOW else "score-high" if score >= HIGH else ""
        items.append(
            f'<li><span class="score-area">{esc(area)}</span> '
            f'<span class="score {css}">{score}</span></li>'
        )
    return f'<ul class="score-list">{"".join(items)}</ul>'


@register.simple_tag
def score_list(scores: Iterable[Evaluation]) -> SafeString:
    """One case's scores, each with its area, coloured low or high."""
    pairs = [(ev.coaching_area.name, ev.score) for ev in scores]
    return mark_safe(_score_list(pairs))  # noqa: S308 - escaped


@register.simple_tag
def recent_case_rows(rows: Iterable[Mapping[str, Any]]) -> SafeString:
    """The Agent Analytics page's recent evaluated cases: {case_id, number, subject,
    evaluated_at, scores: [(area name, score)]} each (`analytics.views.agent_analytics`)."""
    out = []
    for row in rows:
        head: str
        subject: str
        if (case_id := row["case_id"]) is not None:
            head = f'<a href="{url_with_id("case_analytics", case_id)}">{esc(row["number"])}</a>'
            subject = esc(row["subject"])
        else:
            head, subject = "No case", ""
        out.append(
            "          <tr>\n"
            f'            <th scope="row">{head}</th>\n'
            f"            <td>{subject}</td>\n"
            f"            <td>{time_element(row['evaluated_at'], DATE)}</td>\n"
            f"            <td>{_score_list(row['scores'])}</td>\n"
            "          </tr>\n"
        )
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped
