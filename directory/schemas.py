"""The directory as the API shows it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from config.api_common import Out


class UserOut(Out):
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
    role: Literal["agent", "auditor"]


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
