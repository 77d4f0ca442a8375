"""The caller's in-app notifications."""

from __future__ import annotations

from django.http import HttpResponse
from ninja import Query, Router

from config.api_common import (
    Id,
    Limit,
    Offset,
    answer,
    problems,
)
from core.http import AuthenticatedRequest
from notifications import services
from notifications.schemas import NotificationPage

router = Router(tags=["notifications"])

Unread = Query(False, description="true: only the unread ones.")


@router.get("", response={200: NotificationPage, **problems(400, 401, 422)})
def list_notifications(
    request: AuthenticatedRequest,
    unread: bool = Unread,
    limit: int = Limit,
    offset: int = Offset,
) -> HttpResponse:
    """The caller's notifications, newest first."""
    user = request.auth
    items, count, unread_count = services.inbox_page(
        user, unread_only=unread, limit=limit, offset=offset
    )
    return answer(NotificationPage, {"items": items, "count": count, "unread_count": unread_count})


@router.post("/read-all", response={204: None, **problems(401, 403)})
def read_all(request: AuthenticatedRequest) -> HttpResponse:
    """Mark every notification of the caller read."""
    services.notification_mark_all_read(user=request.auth)
    return HttpResponse(status=204)


@router.post("/{id}/read", response={204: None, **problems(400, 401, 403, 404, 422)})
def read_one(request: AuthenticatedRequest, id: Id) -> HttpResponse:
    """Mark one of the caller's notifications read (404 for someone else's)."""
    services.notification_mark_read(user=request.auth, notification_id=id)
    return HttpResponse(status=204)
