"""Helpers for the API tests: a client per demo user (bearer token), problem+json assertions, and
a snapshot of everything a refused request must leave untouched."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from coaching import services
from coaching.models import (
    CoachingSession,
    SessionEvent,
    SessionReferenceCase,
    SessionTraineeGroup,
    SessionTraineeUser,
)
from coaching.rules import SessionFields
from directory.parties import PartyRef
from notifications.models import Notification
from tokens.services import token_issue

PROBLEM = "application/problem+json"
ROLES = ["sam", "sue", "cora", "carl", "alice", "bob", "dan", "audrey", "nora", "admin"]


class ApiClient:
    """A Django test client speaking JSON, signed in with a bearer token (or anonymous)."""

    def __init__(self, token: str | None = None):
        self.client = Client()
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        extra = {}
        if self.token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs: dict[str, Any] = {"content_type": "application/json"} if data is not None else {}
        if data is not None:
            kwargs["data"] = data
        return getattr(self.client, method.lower())(f"/api/v1{path}", **kwargs, **extra)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def as_user(org) -> Callable[[str | None], ApiClient]:
    """`as_user("sam")` -> a client with a bearer token of org.sam; `as_user(None)` -> anonymous."""
    cache: dict[str | None, ApiClient] = {}

    def make(name: str | None) -> ApiClient:
        if name not in cache:
            if name is None:
                cache[name] = ApiClient()
            else:
                _, raw = token_issue(user=getattr(org, name), name="test")
                cache[name] = ApiClient(raw)
        return cache[name]

    return make


def assert_problem(
    response: Any, status: int, code: str, fields: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """The response is problem+json with this status and code; `fields` = expected
    (field, code) pairs of `errors`, in any order."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = json.loads(response.content)
    assert set(body) == {"type", "title", "status", "detail", "code", "errors"}
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["title"] and body["detail"]
    for error in body["errors"]:
        assert set(error) == {"field", "code", "message"} and error["message"]
    if fields is not None:
        assert sorted((e["field"], e["code"]) for e in body["errors"]) == sorted(fields)
    assert "Traceback" not in response.content.decode()
    return body


def snapshot() -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    return {
        "sessions": list(
            CoachingSession.objects.order_by("pk").values_list(
                "pk",
                "title",
                "state",
                "version",
                "cancel_reason",
                "coach_user_id",
                "coach_group_id",
                "coaching_area_id",
                "expires_at",
                "starts_at",
                "updated_at",
            )
        ),
        "trainees": sorted(SessionTraineeUser.objects.values_list("session_id", "user_id")),
        "trainee_groups": sorted(SessionTraineeGroup.objects.values_list("session_id", "group_id")),
        "cases": sorted(SessionReferenceCase.objects.values_list("session_id", "case_id")),
        "events": SessionEvent.objects.count(),
        "notifications": list(Notification.objects.order_by("pk").values_list("pk", "read_at")),
    }


def suggest(org, *, actor=None, **kw: Any) -> CoachingSession:
    """A suggestion made through the service: by Sam, coach Cora, trainee Alice, unless told."""
    fields = dict(
        title="Empathy on refunds",
        coach=PartyRef.of(org.cora),
        trainees=[PartyRef.of(org.alice)],
        coaching_area_id=org.areas["Empathy"].pk,
    )
    fields.update(kw)
    return services.session_suggest(actor=actor or org.sam, fields=SessionFields(**fields))


def future(days: float = 1) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def suggest_body(org, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Handling refunds with empathy",
        "coach": {"type": "user", "id": org.cora.pk},
        "trainees": [{"type": "user", "id": org.alice.pk}],
        "coaching_area_id": org.areas["Empathy"].pk,
    }
    body.update(kw)
    return body
