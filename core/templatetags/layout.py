"""The layout's links and assets, worked out once per process instead of on every page.

Every page's header links to the same pages and loads the same four assets; `{% url %}` resolves
each name on every render and `{% static %}` looks each file up in the storage's manifest, which
was a third of a millisecond of every page. `{% path name %}` is `{% url name %}` for a page
without arguments, remembered for the URL configuration and script prefix it was reversed under;
`{% asset name %}` is `{% static name %}`, remembered for the storage that answered it (tests that
change the storage or the URL configuration get a new one)."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from django import template
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.functional import empty
from django.utils.html import escape
from django.utils.safestring import SafeString

register = template.Library()

_paths: dict[tuple[Any, ...], SafeString] = {}
_assets: weakref.WeakKeyDictionary[Any, dict[str, SafeString]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@register.simple_tag
def path(name: str) -> SafeString:
    key = (settings.ROOT_URLCONF, get_urlconf(), get_script_prefix(), name)
    found = _paths.get(key)
    if found is None:
        found = escape(reverse(name))
        with _lock:
            _paths[key] = found
    return found


@register.simple_tag
def asset(name: str) -> SafeString:
    storage = staticfiles_storage._wrapped  # type: ignore[attr-defined]
    if storage is empty:
        return escape(static(name))  # the storage is made on first use
    with _lock:
        known = _assets.setdefault(storage, {})
    found = known.get(name)
    if found is None:
        found = known[name] = escape(static(name))
    return found
