"""The directory as the API shows it."""

from __future__ import annotations

from ninja import Schema
from pydantic import Field

from directory.models import ParticipantRole
from directory.permissions import Perm, Role


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    is_active: bool


class MeOut(UserOut):
    permissions: list[Perm] = Field(description="The permission codes the caller holds.")
    roles: list[str] = Field(description=f"Role names: {', '.join(Role)}.")
    time_zone: str


class UserGroupOut(Schema):
    id: int
    name: str
    member_count: int = Field(description="Active members.")


class UserGroupDetailOut(UserGroupOut):
    members: list[UserOut]


class CaseOut(Schema):
    id: int
    number: str
    subject: str


class ParticipantOut(Schema):
    user: UserOut
    role: ParticipantRole


class CaseDetailOut(CaseOut):
    participants: list[ParticipantOut]


class CoachingAreaOut(Schema):
    id: int
    name: str


class UserPage(Schema):
    items: list[UserOut]
    count: int


class UserGroupPage(Schema):
    items: list[UserGroupOut]
    count: int


class CasePage(Schema):
    items: list[CaseOut]
    count: int


class CoachingAreaPage(Schema):
    items: list[CoachingAreaOut]
    count: int
