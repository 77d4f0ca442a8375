"""A party is whoever can be picked as coach or as trainee: one user or one user group.

The form's pickers, the API (`{"type": "user" | "group", "id": n}`), the rules and the audit trail
all name a party the same way, through `PartyRef`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from directory.models import User, UserGroup

PartyType = Literal["user", "group"]
Party = User | UserGroup


@dataclass(frozen=True)
class PartyRef:
    """A party as picked: `{"type": "user"|"group", "id": n}`, or the pages' `user:12` token."""

    type: PartyType
    id: int

    @classmethod
    def of(cls, obj: Party) -> PartyRef:
        return cls("group" if isinstance(obj, UserGroup) else "user", obj.pk)

    @classmethod
    def parse(cls, token: str) -> PartyRef:
        """Parse the pages' `user:12` / `group:3` tokens. Raises ValueError."""
        kind, _, raw = token.partition(":")
        if kind == "user" and raw.isdigit():
            return cls("user", int(raw))
        if kind == "group" and raw.isdigit():
            return cls("group", int(raw))
        raise ValueError(token)

    @property
    def token(self) -> str:
        return f"{self.type}:{self.id}"


def party_name(obj: Party) -> str:
    return obj.name if isinstance(obj, UserGroup) else str(obj)


def party_summary(obj: Party) -> dict[str, Any]:
    """`{"type", "id", "name"}`: how the API answers a party and the audit trail records one."""
    return {"type": PartyRef.of(obj).type, "id": obj.pk, "name": party_name(obj)}
