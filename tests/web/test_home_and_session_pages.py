"""Homepage widget, session page, notifications: what each person sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from coaching import services
from coaching.rules import SessionFields
from core.templatetags.times import date_filter
from notifications.models import Notification

from .conftest import HTMX

pytestmark = pytest.mark.django_db


def section(html: str, key: str) -> str:
    """The HTML of one widget section (up to the next one)."""
    start = html.index(f'data-section="{key}"')
    end = html.find('data-section="', start + 20)
    return html[start : end if end != -1 else len(html)]


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_and_login(client, org):
    page = client.get("/login/")
    assert page.status_code == 200
    assert '<label for="id_username">Username</label>' in page.text
    bad = client.post("/login/", {"username": "sam.supervisor", "password": "nope"})
    assert bad.status_code == 200 and 'role="alert"' in bad.text
    ok = client.post("/login/", {"username": "sam.supervisor", "password": "demo"})
    assert ok.status_code == 302 and ok["Location"] == "/"
    home = client.get("/")
    assert 'data-testid="user-name">Sam Supervisor<' in home.text
    out = client.post("/logout/")
    assert out.status_code == 302
    assert client.get("/").status_code == 302


def test_author_home_shows_cards_with_view_edit_delete(as_user, org, suggest):
    s = suggest(title="Tone on refund calls")
    html = as_user(org.sam).get("/").text
    assert "Suggest Session" in html
    mine = section(html, "authored")
    assert "My Suggestions" in mine and "Tone on refund calls" in mine
    assert f'href="/sessions/{s.pk}/"' in mine
    assert f"/sessions/{s.pk}/edit/" in mine and f"/sessions/{s.pk}/delete/" in mine
    assert f"/sessions/{s.pk}/schedule/" not in html
    assert 'data-section="coach"' not in html  # Sam coaches nothing


def test_coach_home_shows_suggested_section_with_schedule_and_decline(as_user, org, suggest):
    s = suggest(coach=org.coaching_team, title="Group coached")
    direct = suggest(title="Cora direct")
    for coach in (org.cora, org.carl):
        html = as_user(coach).get("/").text
        coach_section = section(html, "coach")
        assert "Suggested Coaching Sessions" in coach_section
        assert "Group coached" in coach_section
        assert f"/sessions/{s.pk}/schedule/" in coach_section
        assert f"/sessions/{s.pk}/decline/" in coach_section
        assert "Suggest Session" not in html  # coaches do not hold Create Suggestions
    assert "Cora direct" not in as_user(org.carl).get("/").text
    assert f"/sessions/{direct.pk}/schedule/" in as_user(org.cora).get("/").text


def test_coach_home_lists_scheduled_sessions_next_first(as_user, org, suggest):
    now = timezone.now()
    later = suggest(coach=org.coaching_team, title="Group session later")
    sooner = suggest(title="Cora session sooner")
    past = suggest(title="Long over", now=now - timedelta(days=3))
    running = suggest(title="Running now", now=now - timedelta(days=1))
    services.session_schedule(
        actor=org.cora,
        session_id=running.pk,
        starts_at=now - timedelta(hours=1),
        duration_minutes=120,
        now=now - timedelta(days=1),
    )
    for s, starts in ((later, now + timedelta(days=5)), (sooner, now + timedelta(days=1))):
        services.session_schedule(
            actor=org.cora, session_id=s.pk, starts_at=starts, duration_minutes=30
        )
    services.session_schedule(
        actor=org.cora,
        session_id=past.pk,
        starts_at=now - timedelta(days=2),
        duration_minutes=30,
        now=now - timedelta(days=3),
    )
    cora = section(as_user(org.cora).get("/").text, "coach-scheduled")
    assert "Scheduled Coaching Sessions" in cora
    assert cora.index("Cora session sooner") < cora.index("Group session later")
    assert "Long over" not in cora
    assert cora.index("Running now") < cora.index("Cora session sooner")
    assert f"/sessions/{sooner.pk}/schedule/" not in cora  # nothing left to act on
    carl = section(as_user(org.carl).get("/").text, "coach-scheduled")
    assert "Group session later" in carl and "Cora session sooner" not in carl
    assert 'data-section="coach-scheduled"' not in as_user(org.sam).get("/").text


def test_agent_home_lists_their_sessions_never_canceled_suggestions(as_user, org, suggest):
    open_ = suggest(title="Still open")
    gone = suggest(title="Deleted before scheduling")
    services.session_delete(actor=org.sam, session_id=gone.pk)
    via_group = suggest(title="Through Tier 1", trainees=[org.tier1])
    html = as_user(org.alice).get("/").text
    mine = section(html, "trainee")
    assert "My Coaching Sessions" in mine
    assert "Still open" in mine and "Through Tier 1" in mine
    assert "Deleted before scheduling" not in html
    assert f"/sessions/{open_.pk}/decline/" in mine  # a trainee may decline
    assert f"/sessions/{via_group.pk}/schedule/" not in mine
    assert "Suggest Session" not in html


def test_without_view_suggestions_no_section_is_shown(as_user, org, suggest):
    suggest(title="Invisible to Nora")
    html = as_user(org.nora).get("/").text
    assert "data-section=" not in html
    assert "Suggest Session" not in html
    assert 'data-testid="no-view-suggestions"' in html
    assert "Invisible to Nora" not in html


def test_widget_refresh_is_a_partial(as_user, org, suggest):
    suggest(title="Partial card")
    response = as_user(org.sam).get("/widgets/coaching/", **HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="coaching-widget"' in response.text
    assert "Partial card" in response.text
    assert as_user(org.nora).get(f"/widgets/coaching/?agent={org.bob.pk}").status_code == 403


def test_header_shows_name_and_unread_count(as_user, org, suggest):
    suggest()
    html = as_user(org.cora).get("/").text
    assert 'data-testid="user-name">Cora Coach<' in html
    assert 'aria-label="Notifications, 1 unread"' in html
    assert 'data-testid="unread-count">1<' in html
    bell = as_user(org.cora).get("/notifications/bell/", **HTMX)
    assert "<html" not in bell.text and 'data-testid="unread-count">1<' in bell.text


def test_unread_count_binds_from_its_shape_and_follows_reading(org, suggest):
    """Every page's header counts from one compiled statement (`notifications.services.UNREAD`),
    bound to each viewer: the count is the viewer's own and follows what they read."""
    from directory.models import User
    from directory.permissions import load_viewer
    from notifications.services import UNREAD, notification_mark_read, unread_count

    suggest(title="One")
    suggest(title="Two")
    counts = {}
    for person in (org.cora, org.sam, org.alice, org.carl):
        viewer = User.objects.get(pk=person.pk)
        load_viewer(viewer)
        assert UNREAD.bind(viewer=viewer).cached
        counts[person.username] = unread_count(viewer)
        assert (
            counts[person.username]
            == Notification.objects.filter(recipient=person, read_at=None).count()
        )
    assert counts["cora.coach"] == 2 and counts["sam.supervisor"] == 0
    first = Notification.objects.filter(recipient=org.cora).order_by("pk").first()
    assert first is not None
    notification_mark_read(user=org.cora, notification_id=first.pk)
    assert unread_count(org.cora) == 1 and unread_count(org.alice) == counts["alice.agent"]


def test_session_page_shows_fields_and_history(as_user, org, suggest):
    s = suggest(title="Old title", cases=[org.case1001])
    services.session_edit(
        actor=org.sam,
        session_id=s.pk,
        fields=SessionFields(title="New title"),
    )
    html = as_user(org.sam).get(f"/sessions/{s.pk}/").text
    assert "<h1>New title" in html
    assert "CASE-1001" in html and "Cora Coach" in html and "Alice Agent" in html
    assert "History" in html
    assert "Sam Supervisor</strong> suggested" in html
    assert "Sam Supervisor</strong> edited" in html
    assert "<del>Old title</del> → <ins>New title</ins>" in html


def test_hidden_session_answers_404(as_user, org, suggest):
    s = suggest()
    assert as_user(org.dan).get(f"/sessions/{s.pk}/").status_code == 404
    assert as_user(org.nora).get(f"/sessions/{s.pk}/").status_code == 404
    assert as_user(org.sam).get("/sessions/999999/").status_code == 404
    services.session_delete(actor=org.sam, session_id=s.pk)
    # Canceled before it was scheduled: gone for the agent, still there for the author.
    assert as_user(org.alice).get(f"/sessions/{s.pk}/").status_code == 404
    page = as_user(org.sam).get(f"/sessions/{s.pk}/")
    assert page.status_code == 200 and "Deleted" in page.text


def test_expired_suggestion_reads_as_expired_for_both_sides(as_user, org, suggest, run_worker):
    past = timezone.now() - timedelta(days=10)
    s = suggest(title="Left too long", now=past, expires_at=past + timedelta(days=2))
    # Before the worker ran it already reads as expired.
    home = as_user(org.sam).get("/").text
    assert "Left too long" not in section(home, "authored")  # no longer open: folded away
    assert 'aria-label="1 session"' in section(home, "authored-past")
    assert "Expired" in as_user(org.sam).get("/widgets/coaching/authored-past/", **HTMX).text
    assert "Left too long" not in as_user(org.cora).get("/").text
    run_worker()
    for person in (org.sam, org.cora):
        inbox = as_user(person).get("/notifications/").text
        assert "not scheduled and has expired" in inbox
    assert "Expired" in as_user(org.cora).get(f"/sessions/{s.pk}/").text


def test_notifications_page_mark_one_and_all(as_user, org, suggest):
    first = suggest(title="First")
    suggest(title="Second")
    client = as_user(org.cora)
    html = client.get("/notifications/").text
    assert html.count(">Sam Supervisor suggested a coaching session.</a>") == 2
    n1 = Notification.objects.get(recipient=org.cora, session=first)
    assert f"/notifications/{n1.pk}/open/" in html
    response = client.post(f"/notifications/{n1.pk}/read/", **HTMX)
    assert response.status_code == 200 and "<html" not in response.text
    assert "1 unread" in response.text
    n1.refresh_from_db()
    assert n1.read_at is not None
    client.post("/notifications/read-all/")
    assert not Notification.objects.filter(recipient=org.cora, read_at__isnull=True).exists()
    assert "All caught up" in client.get("/notifications/").text


def test_notification_rows_escape_and_offer_mark_read_only_when_unread(as_user, org, suggest):
    """The rows are written in Python (notifications/templatetags/inbox.py): what the template
    wrote, escaped, each unread one with its own form and a working CSRF field."""
    suggest(title='<script>alert("x")</script> & co')
    read = suggest(title="Already read")
    Notification.objects.filter(recipient=org.cora, session=read).update(read_at=timezone.now())
    unread = Notification.objects.get(recipient=org.cora, read_at__isnull=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.cora)
    html = client.get("/notifications/").text
    rows = html.split('<li class="notification')[1:]
    assert len(rows) == 2
    first, second = rows  # the newest first
    assert "<script>" not in html
    assert "“&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co”" in second
    assert second.startswith(f' unread" data-notification-id="{unread.pk}"')
    assert '<span class="visually-hidden">Unread. </span>' in second
    assert f'action="/notifications/{unread.pk}/read/"' in second
    when = date_filter(unread.created_at, "M j, Y · H:i")
    assert f'<time datetime="{date_filter(unread.created_at, "c")}">{when}</time>' in second
    assert "“Already read”" in first and "<form" not in first and "Unread." not in first
    token = second.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    done = client.post(f"/notifications/{unread.pk}/read/", {"csrfmiddlewaretoken": token})
    assert done.status_code == 302
    unread.refresh_from_db()
    assert unread.read_at is not None


def test_opening_a_notification_reads_it_and_goes_to_its_session(as_user, org, suggest):
    s = suggest()
    n = Notification.objects.get(recipient=org.cora)
    response = as_user(org.cora).get(f"/notifications/{n.pk}/open/")
    assert response.status_code == 302 and response["Location"] == f"/sessions/{s.pk}/"
    n.refresh_from_db()
    assert n.read_at is not None
    assert as_user(org.sam).get(f"/notifications/{n.pk}/open/").status_code == 404
