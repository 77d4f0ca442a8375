"""Helpers for the pages' Django test-client tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from django.test import Client

from coaching import services
from coaching.models import CoachingSession, Origin
from coaching.rules import SessionFields
from directory.parties import PartyRef


@pytest.fixture
def as_user(org) -> Callable[..., Client]:
    """`as_user(org.sam)` -> a test client signed in as Sam."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def suggest(org) -> Callable[..., CoachingSession]:
    """Make a suggestion through the service: Sam -> coach Cora, trainee Alice, Empathy."""

    def make(
        *,
        author=None,
        title: str = "Empathy on refunds",
        coach=None,
        trainees=None,
        area: str = "Empathy",
        cases=(),
        expires_at: datetime | None = None,
        now: datetime | None = None,
        origin: str = Origin.HOMEPAGE,
    ) -> CoachingSession:
        return services.session_suggest(
            actor=author or org.sam,
            fields=SessionFields(
                title=title,
                coach=PartyRef.of(coach or org.cora),
                trainees=[PartyRef.of(t) for t in (trainees or [org.alice])],
                coaching_area_id=org.areas[area].pk,
                expires_at=expires_at,
                reference_case_ids=[c.pk for c in cases],
            ),
            origin=origin,
            now=now,
        )

    return make


def form_data(org, **overrides):
    """A valid suggestion form as the browser would post it."""
    from django.utils import timezone

    from coaching.forms import to_local_input
    from core.timeutils import default_expiry

    data = {
        "title": "Empathy on refunds",
        "coach": f"user:{org.cora.pk}",
        "trainees": [f"user:{org.alice.pk}"],
        "coaching_area_id": str(org.areas["Empathy"].pk),
        "expires_at": to_local_input(default_expiry(now=timezone.now()), "UTC"),
        "reference_case_ids": [],
        "origin": "homepage",
    }
    data.update(overrides)
    return data
