"""The directory as the API shows it."""

from __future__ import annotations

from pydantic import Field

from config.api_common import Out
from directory.models import ParticipantRole, User
from directory.permissions import Perm, Role


class UserOut(Out):
    id: int
    username: str
    display_name: str
    is_active: bool


def user_json(user: User | None) -> dict[str, object] | None:
    """`UserOut` in JSON terms (None for no user), for answers written by
    `config.api_common.answer_json`."""
    if user is None:
        return None
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "is_active": user.is_active,
    }


class MeOut(UserOut):
    permissions: list[Perm] = Field(description="The permission codes the caller holds.")
    roles: list[str] = Field(description=f"Role names: {', '.join(Role)}.")
    time_zone: str


class UserGroupOut(Out):
    id: int
    name: str
    member_count: int = Field(description="Active members.")


class UserGroupDetailOut(UserGroupOut):
    members: list[UserOut]


class CaseOut(Out):
    id: int
    number: str
    subject: str


class ParticipantOut(Out):
    user: UserOut
    role: ParticipantRole


class CaseDetailOut(CaseOut):
    participants: list[ParticipantOut]


class CoachingAreaOut(Out):
    id: int
    name: str


class UserPage(Out):
    items: list[UserOut]
    count: int


class UserGroupPage(Out):
    items: list[UserGroupOut]
    count: int


class CasePage(Out):
    items: list[CaseOut]
    count: int


class CoachingAreaPage(Out):
    items: list[CoachingAreaOut]
    count: int
