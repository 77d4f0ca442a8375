from __future__ import annotations

from ninja import Schema

from config.api_common import Time
from notifications.models import Kind


class NotificationOut(Schema):
    id: int
    kind: Kind
    message: str
    session_id: int
    session_title: str
    created_at: Time
    read_at: Time | None


class NotificationPage(Schema):
    items: list[NotificationOut]
    count: int
    unread_count: int
