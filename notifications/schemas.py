from __future__ import annotations

from typing import Literal

from config.api_common import Out, Time

KindName = Literal[
    "session_suggested",
    "session_canceled_by_supervisor",
    "session_canceled_by_coach",
    "session_canceled_by_trainee",
    "session_expired",
    "session_scheduled",
]


class NotificationOut(Out):
    id: int
    kind: KindName
    message: str
    session_id: int
    session_title: str
    created_at: Time
    read_at: Time | None


class NotificationPage(Out):
    items: list[NotificationOut]
    count: int
    unread_count: int
