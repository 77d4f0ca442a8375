"""Signing in for the API (`POST /auth/token`) and who am I (`GET /me`)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest
from ninja import Router
from pydantic import BaseModel, Field

from config.api_common import Out, Text, Time, problems
from core.errors import NotAuthenticated
from core.http import AuthenticatedRequest
from directory.models import User
from directory.permissions import Perm, has_perm
from directory.schemas import MeOut, UserOut
from directory.selectors import role_names

from .services import token_issue

router = Router(tags=["auth"])


class TokenIn(BaseModel):
    username: Text
    password: Text
    name: Text = Field("", max_length=100, description="A label for the token (shown in admin).")


class TokenOut(Out):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'. Shown only once.")
    user: UserOut
    expires_at: Time


@router.post("/auth/token", auth=None, response={200: TokenOut, **problems(400, 401, 422, 429)})
def issue_token(request: HttpRequest, payload: TokenIn) -> dict[str, object]:
    """Exchange a username and password for a bearer token (valid API_TOKEN_TTL_DAYS days).

    Repeated wrong passwords for one account, or from one client address, lock signing in for a
    while (429 `too_many_attempts`, with `Retry-After` in seconds), on the login page as here."""
    user = authenticate(request, username=payload.username, password=payload.password)
    if not isinstance(user, User) or not user.is_active:
        raise NotAuthenticated("Wrong username or password.")
    token, raw = token_issue(user=user, name=payload.name)
    # A sign-in like the login page's: it clears this account's and address's failure counts
    # and is recorded (last login, the admin's access log).
    user_logged_in.send(sender=type(user), request=request, user=user)
    return {"token": raw, "user": user, "expires_at": token.expires_at}


@router.get("/me", response={200: MeOut, **problems(401)})
def me(request: AuthenticatedRequest) -> dict[str, object]:
    """The caller, with the permissions and roles they hold."""
    user = request.auth
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "is_active": user.is_active,
        "time_zone": user.time_zone,
        "permissions": [p.value for p in Perm if has_perm(user, p)],
        "roles": sorted(role_names(user)),
    }
