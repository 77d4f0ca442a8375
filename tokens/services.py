"""Issuing, checking and revoking API tokens. Nothing else writes `ApiToken` rows."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from directory.models import User

from .models import ApiToken

PREFIX_LEN = 8
# Writing last_used_at on every request would turn each read into a write; once a minute is
# precise enough to spot stale tokens.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def token_issue(*, user: User, name: str = "", now: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the secret, which is shown once and not kept."""
    now = now or timezone.now()
    raw = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=raw[:PREFIX_LEN],
        key_hash=hash_key(raw),
        created_at=now,
        expires_at=now + timedelta(days=settings.API_TOKEN_TTL_DAYS),
    )
    return token, raw


def token_authenticate(raw: str, *, now: datetime | None = None) -> User | None:
    """The active user a live token belongs to, or None (unknown, expired, revoked, inactive)."""
    if not raw or len(raw) > 200:
        return None
    now = now or timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_key(raw), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def token_revoke(*, token_ids: list[int], now: datetime | None = None) -> int:
    now = now or timezone.now()
    with transaction.atomic():
        return ApiToken.objects.filter(pk__in=token_ids, revoked_at__isnull=True).update(
            revoked_at=now
        )
