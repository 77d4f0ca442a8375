"""decisions.md's notification texts, written out once for the tests that check the product
against the spec (not imported from the product, so a change there cannot pass unnoticed)."""

from __future__ import annotations

TEXT = {
    "session_suggested": "{author} suggested a coaching session.",
    "session_canceled_by_supervisor": "Suggested Coaching Session has been canceled.",
    "session_expired": "Coaching Session has been canceled because the suggested coaching "
    "session was not scheduled and has expired.",
    "session_canceled_by_coach": "Coaching Session has been canceled as {actor} has declined "
    "the suggested session because of {reason}.",
    "session_canceled_by_trainee": "Coaching Session has been canceled as {actor} has declined "
    "the suggested session because of {reason}.",
    "session_scheduled": "{actor} has scheduled a session based on your suggestion.",
    # After scheduling (decisions.md, 2026-12-01)
    "session_invitation": "{actor} has scheduled a coaching session with you.",
    "session_rescheduled": "{actor} has moved the coaching session to {start}.",
    "session_canceled_after_scheduling": "Coaching Session has been canceled as {actor} has "
    "canceled the scheduled session because of {reason}.",
    "session_completed": "{actor} has completed the coaching session and shared notes.",
    "session_acknowledged": "{actor} has acknowledged the coaching session.",
    "session_reminder": "Reminder: the coaching session starts {start}.",
    "suggestion_expiring": "A suggested coaching session expires {expiry} unless it is scheduled.",
}
