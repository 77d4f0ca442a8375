"""Django's time filters (`date`, `time`, `timeuntil`, `timesince`), made unable to fail a page.

Loaded as a template builtin (config/settings.py), so every template uses these in place of
Django's own: a stored time whose local time does not exist in Python (far future seen from east
of UTC) is shown in UTC, and a value that still cannot be written is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import template
from django.template import defaultfilters

from core.timeutils import localized

register = template.Library()


def _never_failing(django_filter: Callable[..., str]) -> Callable[..., str]:
    def render(value: Any, arg: Any = None) -> str:
        if isinstance(value, datetime):
            value = localized(value)
        try:
            return django_filter(value, arg)
        except (OverflowError, ValueError):
            return ""

    return render


# Each converts to the viewer's zone itself (with the UTC fallback), so not Django's conversion.
date_filter = _never_failing(defaultfilters.date)
timeuntil_filter = _never_failing(defaultfilters.timeuntil_filter)
register.filter("date", date_filter, expects_localtime=False)
register.filter("time", _never_failing(defaultfilters.time), expects_localtime=False)
register.filter("timeuntil", timeuntil_filter)
register.filter("timesince", _never_failing(defaultfilters.timesince_filter))
