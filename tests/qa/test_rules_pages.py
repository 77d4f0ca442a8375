"""The rules page (Django test client): QM Admins only, the list in words, the create, edit and
delete dialogs with htmx and without JavaScript."""

from __future__ import annotations

import pytest
from django.test import Client

from qa.models import CoachingRule

from .helpers import rule

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def form(org, **kw):
    base = {
        "name": "Compliance slip",
        "coaching_area_id": str(org.areas["Compliance"].pk),
        "threshold": "65",
        "window": "4",
        "min_evaluations": "2",
        "coach": f"group:{org.coaching_team.pk}",
        "expires_in_days": "10",
        "active": "on",
    }
    base.update(kw)
    return base


@pytest.mark.parametrize("who", ["sam", "cora", "alice", "audrey", "nora"])
def test_only_qm_admins_see_the_page_and_its_link(org, who):
    r = rule(org)
    c = client_for(getattr(org, who))
    assert c.get("/rules/").status_code == 403
    assert c.get("/rules/new/").status_code == 403
    assert c.get(f"/rules/{r.pk}/edit/").status_code == 403
    assert c.post(f"/rules/{r.pk}/delete/").status_code == 403
    assert CoachingRule.objects.count() == 1
    assert 'href="/rules/"' not in c.get("/").content.decode()
    assert 'href="/rules/"' in client_for(org.admin).get("/").content.decode()


def test_the_list_says_each_rule_in_words(org):
    rule(org, name="Empathy dip", threshold=70, window=5, min_evaluations=3, expires_in_days=14)
    rule(org, name="Team", coach_user=None, coach_group=org.coaching_team, active=False)
    c = client_for(org.admin)
    page = c.get("/rules/").content.decode()
    assert "Average below 70 over the last 5 evaluations (at least 3)" in page
    assert "the suggestion expires after 14 days" in page
    assert "Cora Coach" in page and "Coaching Team" in page and "Paused" in page
    assert "Not yet" in page


def test_creating_with_htmx_closes_the_dialog_and_tells_the_list(org):
    c = client_for(org.admin)
    assert "New coaching rule" in c.get("/rules/new/", **HTMX).content.decode()
    r = c.post("/rules/new/", form(org), **HTMX)
    assert r.status_code == 200 and "coaching:changed" in r["HX-Trigger"]
    made = CoachingRule.objects.get()
    assert (made.name, made.threshold, made.window, made.min_evaluations) == (
        "Compliance slip",
        65,
        4,
        2,
    )
    assert (made.coach_group, made.expires_in_days, made.active) == (org.coaching_team, 10, True)


def test_every_error_comes_back_beside_its_field(org):
    c = client_for(org.admin)
    r = c.post(
        "/rules/new/",
        form(org, name="", threshold="abc", window="3", min_evaluations="4", coach=""),
        **HTMX,
    )
    assert r.status_code == 422
    page = r.content.decode()
    assert "There are 4 problems" in page
    assert "Enter a name." in page
    assert "Enter the threshold as a whole number from 0 to 100." in page
    assert "may not exceed the number averaged (3)" in page
    assert "Pick a coach: one user or one user group." in page
    assert 'aria-invalid="true"' in page
    assert not CoachingRule.objects.exists()


def test_editing_keeps_what_is_shown_and_an_emptied_field_is_required(org):
    r = rule(org)
    c = client_for(org.admin)
    page = c.get(f"/rules/{r.pk}/edit/", **HTMX).content.decode()
    assert 'value="Empathy dip"' in page and "Cora Coach" in page
    bad = c.post(f"/rules/{r.pk}/edit/", form(org, threshold=""), **HTMX)
    assert bad.status_code == 422 and "Enter the threshold score." in bad.content.decode()
    ok = c.post(f"/rules/{r.pk}/edit/", form(org, name="Renamed", active=""), **HTMX)
    assert ok.status_code == 200
    r.refresh_from_db()
    assert (r.name, r.active, r.threshold) == ("Renamed", False, 65)


def test_without_javascript_the_dialogs_are_pages_and_redirect(org):
    r = rule(org)
    c = client_for(org.admin)
    assert "Delete this coaching rule?" in c.get(f"/rules/{r.pk}/delete/").content.decode()
    done = c.post(f"/rules/{r.pk}/delete/")
    assert done.status_code == 302 and done["Location"] == "/rules/"
    assert not CoachingRule.objects.exists()
    created = c.post("/rules/new/", form(org))
    assert created.status_code == 302
    assert "Created the coaching rule" in c.get("/rules/").content.decode()


def test_the_list_is_paged(org):
    for i in range(30):
        rule(org, name=f"Rule {i:02}")
    c = client_for(org.admin)
    first = c.get("/rules/").content.decode()
    assert "Rule 24" in first and "Rule 25" not in first and "1–25 of 30" in first
    second = c.get("/rules/?offset=25").content.decode()
    assert "Rule 25" in second and "Rule 29" in second and "26–30 of 30" in second


def test_the_list_runs_the_same_queries_for_2_rules_as_for_12(org):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = client_for(org.admin)
    c.get("/rules/")
    counts = []
    for n in (2, 12):
        while CoachingRule.objects.count() < n:
            i = CoachingRule.objects.count()
            rule(
                org,
                name=f"Rule {i}",
                coach_user=None if i % 2 else org.cora,
                coach_group=org.coaching_team if i % 2 else None,
            )
        with CaptureQueriesContext(connection) as queries:
            assert c.get("/rules/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
