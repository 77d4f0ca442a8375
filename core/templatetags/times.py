"""Django's time filters (`date`, `time`, `timeuntil`, `timesince`), made unable to fail a page.

Loaded as a template builtin (config/settings.py), so every template uses these in place of
Django's own: a stored time whose local time does not exist in Python (far future seen from east
of UTC) is shown in UTC, and a distance that cannot be computed is left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.template import defaultfilters

from core.timeutils import localized

register = template.Library()


def _local(value: Any) -> Any:
    return localized(value) if isinstance(value, datetime) else value


@register.filter(expects_localtime=False, is_safe=False)
def date(value: Any, arg: str | None = None) -> str:
    try:
        return defaultfilters.date(_local(value), arg)
    except (OverflowError, ValueError):
        return ""


@register.filter(expects_localtime=False, is_safe=False)
def time(value: Any, arg: str | None = None) -> str:
    try:
        return defaultfilters.time(_local(value), arg)
    except (OverflowError, ValueError):
        return ""


@register.filter("timeuntil", is_safe=False)
def timeuntil_filter(value: Any, arg: Any = None) -> str:
    try:
        return defaultfilters.timeuntil_filter(value, arg)
    except (OverflowError, ValueError):
        return ""


@register.filter("timesince", is_safe=False)
def timesince_filter(value: Any, arg: Any = None) -> str:
    try:
        return defaultfilters.timesince_filter(value, arg)
    except (OverflowError, ValueError):
        return ""
