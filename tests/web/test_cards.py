"""A card writes its times itself (`core.markup.time_parts`), not through the `date` filter:
the same text as the filter gives, in the viewer's zone, for every format the card uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext_lazy

from coaching.cards import render_card
from coaching.models import CoachingSession
from coaching.selectors import with_related
from core.markup import DATE, DAY, LONG, SHORT, esc, time_parts
from core.templatetags.times import date_filter

MOMENTS = [
    datetime(2026, 1, 5, 9, 7, tzinfo=UTC),  # single-digit day, minutes with a zero
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # the night Europe moves its clocks
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # the next day in Berlin
    datetime(2027, 7, 14, 16, 45, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 0, tzinfo=UTC),  # no local time east of UTC: shown in UTC
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"])
@pytest.mark.parametrize("fmt", [LONG, SHORT, DATE, DAY])
@pytest.mark.parametrize("moment", MOMENTS)
def test_time_parts_is_the_date_filter(zone, fmt, moment):
    with timezone.override(zone):
        assert time_parts(moment, fmt) == (date_filter(moment, "c"), date_filter(moment, fmt))


def test_time_parts_of_nothing_is_empty():
    assert time_parts(None, LONG) == ("", "")


def test_card_escapes_what_people_typed(suggest):
    made = suggest(
        title='<script>alert("x")</script> & more', expires_at=timezone.now() + timedelta(days=3)
    )
    s = with_related(CoachingSession.objects.filter(pk=made.pk)).get()
    html = render_card(s, {"edit": True}, "mine", "/agents/1/?a=1&b=2")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in html
    assert f'href="/sessions/{s.pk}/edit/?next=/agents/1/%3Fa%3D1%26b%3D2"' in html
    assert "Delete" not in html  # only the buttons the viewer may use
    assert "(in 2\xa0days" in html or "(in 3\xa0days" in html


@pytest.mark.parametrize(
    "value",
    ["<b>\"Tom\" & 'Jerry'</b>", "plain", "", "&amp; already", "\u201cquoted\u201d", 42, None],
)
def test_esc_is_djangos_escape(value):
    assert esc(value) == escape(value)


def test_esc_resolves_lazy_text_in_the_active_language():
    lazy = gettext_lazy("Coaching <session> & more")
    assert esc(lazy) == escape(lazy) == "Coaching &lt;session&gt; &amp; more"


@pytest.mark.parametrize("language", ["en", "de", None])
def test_month_and_weekday_names_follow_the_active_language(language):
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday in March
    with timezone.override("UTC"), translation.override(language):
        assert time_parts(moment, LONG)[1] == date_filter(moment, LONG)
