"""CSP on every page, no inline script or style, and the error pages."""

from __future__ import annotations

import re

import pytest

from .conftest import HTMX

pytestmark = pytest.mark.django_db


def pages(org, session_id):
    return [
        "/",
        f"/sessions/{session_id}/",
        "/sessions/new/",
        f"/sessions/{session_id}/edit/",
        f"/sessions/{session_id}/delete/",
        f"/agents/{org.alice.pk}/",
        f"/cases/{org.case1001.pk}/",
        "/search/agents/?q=a",
        "/search/cases/?q=c",
        "/notifications/",
    ]


def test_csp_header_with_nonce_on_every_page(as_user, org, suggest):
    s = suggest()
    client = as_user(org.sam)
    for url in pages(org, s.pk):
        response = client.get(url)
        assert response.status_code == 200, url
        csp = response["Content-Security-Policy"]
        nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
        assert "script-src 'self' 'nonce-" in csp and "'unsafe-inline'" not in csp
        scripts = re.findall(r"<script\b[^>]*>", response.text)
        assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts), url
        assert not re.search(r"\sstyle=", response.text), url
        assert not re.search(r"\son[a-z]+=", response.text), url
        assert "<style" not in response.text
        assert (
            '"allowEval":false' in response.text
            and '"includeIndicatorStyles":false' in response.text
        )
        assert "/static/django_htmx/htmx-2.min.js" in response.text


def test_login_page_has_csp_too(client, org):
    response = client.get("/login/")
    assert "'nonce-" in response["Content-Security-Policy"]


def test_403_and_404_pages(as_user, org):
    forbidden = as_user(org.nora).get(f"/agents/{org.alice.pk}/")
    assert forbidden.status_code == 403 and "You may not open this page" in forbidden.text
    assert "Content-Security-Policy" in forbidden
    missing = as_user(org.sam).get("/sessions/424242/")
    assert missing.status_code == 404 and "We could not find that" in missing.text
    in_dialog = as_user(org.sam).get("/sessions/424242/edit/", **HTMX)
    assert in_dialog.status_code == 404 and "<html" not in in_dialog.text
    assert 'id="modal-title"' in in_dialog.text
