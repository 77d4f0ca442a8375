"""The secret address of each user's calendar feed (`/calendar/<id>/<secret>.ics`, served by
`coaching.feeds`). The secret is an HMAC of the user's id and feed key under SECRET_KEY, so a copy
of the database alone does not give the feeds away; a new key revokes the old address."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from .models import User


def feed_token(user: User) -> str:
    """The secret part of the user's feed URL: an HMAC of their id and feed key. A new key (see
    `directory.services.calendar_feed_rotate`) makes every older URL fail."""
    message = f"calendar-feed:{user.pk}:{user.calendar_feed_key}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:40]


def feed_path(user: User) -> str:
    return f"/calendar/{user.pk}/{feed_token(user)}.ics"


def feed_url(user: User) -> str:
    return f"{settings.SITE_URL}{feed_path(user)}"


def feed_owner(user_id: int, token: str) -> User | None:
    """The active user whose feed URL this is, or None (constant-time comparison)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not hmac.compare_digest(feed_token(user), token):
        return None
    return user
