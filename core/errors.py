"""One error family for the whole product.

Services and rules raise these; the API turns them into problem+json, the pages into form errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    MALFORMED_REQUEST = "malformed_request"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    INVALID_STATE = "invalid_state"
    VERSION_CONFLICT = "version_conflict"
    VALIDATION_FAILED = "validation_failed"
    SCHEDULE_CONFLICT = "schedule_conflict"
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    # Answered by the HTTP layer only; no service raises these.
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INTERNAL_ERROR = "internal_error"
    REQUEST_TOO_LARGE = "request_too_large"
    URI_TOO_LONG = "uri_too_long"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    SERVICE_UNAVAILABLE = "service_unavailable"


class FieldCode(StrEnum):
    REQUIRED = "required"
    TOO_LONG = "too_long"
    IN_PAST = "in_past"
    IN_FUTURE = "in_future"
    TOO_FAR = "too_far"
    UNKNOWN_ID = "unknown_id"
    INACTIVE = "inactive"
    DUPLICATE = "duplicate"
    OUT_OF_RANGE = "out_of_range"
    EMPTY_GROUP = "empty_group"
    INVALID = "invalid"
    SUPERVISOR_CANNOT_BE_COACH = "supervisor_cannot_be_coach"
    SUPERVISOR_CANNOT_BE_TRAINEE = "supervisor_cannot_be_trainee"
    COACH_IS_ALSO_TRAINEE = "coach_is_also_trainee"
    COACH_GROUP_ONLY_SUPERVISOR = "coach_group_only_supervisor"
    TRAINEE_GROUP_ONLY_SUPERVISOR = "trainee_group_only_supervisor"


@dataclass(frozen=True)
class FieldError:
    field: str
    code: FieldCode
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": str(self.code), "message": self.message}


class ApplicationError(Exception):
    code: ErrorCode = ErrorCode.MALFORMED_REQUEST
    status: int = 400
    title: str = "Bad request"

    def __init__(self, message: str | None = None, *, errors: list[FieldError] | None = None):
        self.message = message or self.title
        self.errors: list[FieldError] = list(errors or [])
        super().__init__(self.message)

    def extra(self) -> dict[str, object]:
        """Members the problem document carries beside the standard ones (RFC 9457 extensions)."""
        return {}


class MalformedRequest(ApplicationError):
    code, status, title = ErrorCode.MALFORMED_REQUEST, 400, "Malformed request"


class NotAuthenticated(ApplicationError):
    code, status, title = ErrorCode.NOT_AUTHENTICATED, 401, "Not authenticated"


class PermissionDenied(ApplicationError):
    code, status, title = ErrorCode.PERMISSION_DENIED, 403, "Permission denied"


class NotFound(ApplicationError):
    code, status, title = ErrorCode.NOT_FOUND, 404, "Not found"


class InvalidState(ApplicationError):
    code, status, title = ErrorCode.INVALID_STATE, 409, "Invalid state"


class VersionConflict(ApplicationError):
    code, status, title = ErrorCode.VERSION_CONFLICT, 412, "Version conflict"


class ValidationFailed(ApplicationError):
    code, status, title = ErrorCode.VALIDATION_FAILED, 422, "Validation failed"

    def __init__(self, errors: list[FieldError], message: str | None = None):
        super().__init__(message or "; ".join(e.message for e in errors), errors=errors)

    def for_field(self, field: str) -> list[FieldError]:
        return [e for e in self.errors if e.field == field]


class AlreadyAcknowledged(ApplicationError):
    code, status, title = ErrorCode.ALREADY_ACKNOWLEDGED, 409, "Already acknowledged"


class ScheduleConflict(ApplicationError):
    """The coach or a trainee already has a scheduled session at that time. `conflicts` holds each
    clash as the caller may learn it (see `coaching.availability.Clash`)."""

    code, status, title = ErrorCode.SCHEDULE_CONFLICT, 409, "Schedule conflict"

    def __init__(self, conflicts: list[Any], message: str | None = None):
        self.conflicts = conflicts
        names = list(dict.fromkeys(str(c.user) for c in conflicts))
        super().__init__(
            message
            or f"{', '.join(names)} already {'has' if len(names) == 1 else 'have'} a coaching "
            "session at that time. Pick another time, or schedule anyway."
        )

    def extra(self) -> dict[str, object]:
        return {
            "conflicts": [
                {
                    "user": {
                        "id": c.user.pk,
                        "username": c.user.username,
                        "display_name": str(c.user),
                        "is_active": c.user.is_active,
                    },
                    "session_id": c.session_id,
                    "title": c.title,
                    "starts_at": c.starts_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    "ends_at": c.ends_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                }
                for c in self.conflicts
            ]
        }
