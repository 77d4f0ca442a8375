from __future__ import annotations

from config.api_common import Out, Time
from notifications.models import Kind


class NotificationOut(Out):
    id: int
    kind: Kind
    message: str
    session_id: int
    session_title: str
    created_at: Time
    read_at: Time | None


class NotificationPage(Out):
    items: list[NotificationOut]
    count: int
    unread_count: int
