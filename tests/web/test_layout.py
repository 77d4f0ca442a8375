"""The layout's links and assets (`core.templatetags.layout`): what `{% url %}` and `{% static %}`
give, remembered per URL configuration and storage."""

from __future__ import annotations

import pytest
from django.templatetags.static import static
from django.test import override_settings
from django.urls import reverse

from core.templatetags import layout

pytestmark = pytest.mark.django_db

HEADER = ["home", "search_agents", "search_cases", "rules", "profile", "logout", "notifications"]
ASSETS = ["img/favicon.svg", "css/app.css", "django_htmx/htmx-2.min.js", "js/app.js"]


def test_every_header_link_and_asset_is_what_url_and_static_give(as_user, org):
    html = as_user(org.admin).get("/").text
    for name in HEADER:
        assert f'"{reverse(name)}"' in html, name
    for name in ASSETS:
        assert f'"{static(name)}"' in html, name
    assert layout.path("home") == reverse("home")
    assert layout.asset("css/app.css") == static("css/app.css")


def test_a_new_script_prefix_or_storage_is_not_answered_from_memory(org):
    from django.urls import set_script_prefix

    before = layout.path("profile")
    set_script_prefix("/qm/")
    try:
        assert layout.path("profile") == "/qm" + before == reverse("profile")
    finally:
        set_script_prefix("/")
    assert layout.path("profile") == before
    with override_settings(STATIC_URL="/elsewhere/"):
        assert layout.asset("css/app.css") == static("css/app.css")
        assert layout.asset("css/app.css").startswith("/elsewhere/")
    assert not layout.asset("css/app.css").startswith("/elsewhere/")
