"""What every page's header needs: the viewer's permissions and unread notification count."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from directory.permissions import Perm, has_perm, is_qm_admin
from notifications.services import unread_count


def header(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_notifications": unread_count(user),
        "can_view_suggestions": has_perm(user, Perm.VIEW_SUGGESTIONS),
        "can_create_suggestions": has_perm(user, Perm.CREATE_SUGGESTIONS),
        "can_view_analytics": has_perm(user, Perm.VIEW_ANALYTICS),
        "is_qm_admin": is_qm_admin(user),
    }
