"""The directory as the API shows it."""

from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import Field


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    is_active: bool


class MeOut(UserOut):
    permissions: list[str] = Field(
        description="Permission codes held: view_suggestions, create_suggestions, view_analytics."
    )
    roles: list[str] = Field(description="Role names: QM Admin, Supervisor, Coach, Agent, Auditor.")
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
    role: Literal["agent", "auditor"]


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
