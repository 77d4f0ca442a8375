"""The authorization matrix: who gets which answer from every API endpoint and every page.

Read it as the spec. Each table is a list of rows; for a request, the FIRST row that matches its
endpoint, the caller's role, the caller's relationship to the session and the session's state
gives the expected outcome. `ANY` matches everything. Every row cites the sentence of
`shared/spec/decisions.md` (or `api-v1.md`, or README.md where the spec is silent) it comes
from. The tests in `test_matrix.py` expand the tables into every cell and check each one; they
also check that every cell is matched by some row and every row matches some cell.

Outcomes: a status code, `OK` (the endpoint's success status, in ENDPOINTS), `LOGIN` (302 to the
sign-in page) or `ADMIN_LOGIN` (302 to the admin's sign-in page). An API refusal's problem `code`
is the status's usual one (`test_matrix.CODES`) unless the row names another (`code=`).

Adding an endpoint or a page (the completeness test in `test_matrix.py` fails until you do):
1. Name it in SESSION_ENDPOINTS (it acts on one session: `{id}` in its path) or OTHER_ENDPOINTS
   (method, path, success status); put it in the endpoint sets its rules share (READ, CANCEL...).
2. Give it rows: where no existing row gives the right answer, add one ABOVE the first row that
   would otherwise match, citing the spec's sentence. `ANY` matches every value.
3. If it changes something, give its body in `test_matrix.session_body` / `other_body`; if it
   needs another kind of relationship (a case, a notification...), in OTHER_RELATIONSHIPS and
   `test_matrix.other_path`.
4. If it needs a session in a new state or relationship, add it to STATES / RELATIONSHIPS and
   make `world.build` put a session there (through the services).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ANY: Final = None
OK: Final = "ok"
LOGIN: Final = "login"
ADMIN_LOGIN: Final = "admin_login"

# --- who asks: every demo role (one demo user stands for it) and nobody --------------------------
ROLES: dict[str, str | None] = {
    "anonymous": None,
    "qm_admin": "admin",
    "supervisor": "sam.supervisor",
    "coach": "cora.coach",
    "agent": "alice.agent",
    "auditor": "audrey.auditor",
    "no_permissions": "nora.noperm",
}

# --- the caller's relationship to the session ----------------------------------------------------
RELATIONSHIPS = (
    "author",  # made the suggestion
    "coach",  # picked as coach
    "coach_via_group",  # member of the user group picked as coach
    "trainee",  # picked as trainee
    "trainee_via_group",  # member of a user group picked as trainees
    "case_participant",  # took part in one of its reference cases
    "unrelated",  # none of these
    # Only once scheduled (the trainees are invited then, groups expanded at that moment):
    "trainee_joined_later",  # joined a trainee group after it was scheduled (not invited)
    "attendee_left_group",  # invited through a trainee group, left the group afterwards
)

# --- the session's state -------------------------------------------------------------------------
STATES = (
    "suggested",
    "expired_unrecorded",  # Expiry Time passed, the worker has not recorded it yet
    "scheduled",  # its start is ahead
    "scheduled_started",  # its start has passed, not completed yet
    "completed",  # held; no trainee has acknowledged it
    "acknowledged",  # completed, and every invited trainee (the caller too) acknowledged it
    "canceled_after_scheduling",  # canceled by its coach once scheduled (canceled_by_coach)
    "deleted_by_supervisor",
    "declined_by_coach",
    "declined_by_trainee",
    "expired",  # recorded by the worker
)
OPEN = {"suggested"}
CLOSED = set(STATES) - OPEN
SCHEDULED = {"scheduled", "scheduled_started"}
COMPLETED = {"completed", "acknowledged"}
AFTER_SCHEDULING = SCHEDULED | COMPLETED | {"canceled_after_scheduling"}
CANCELED_BEFORE_SCHEDULING = CLOSED - AFTER_SCHEDULING

# Relationships that exist only in some states (before scheduling nobody is invited, so these are
# trainee_via_group).
RELATIONSHIP_STATES: dict[str, set[str]] = {
    "trainee_joined_later": AFTER_SCHEDULING,
    "attendee_left_group": AFTER_SCHEDULING,
}

# Cells that cannot exist: only a holder of Create Suggestions authors; a coach who may not see the
# session cannot act on it, so a session she coaches directly is never scheduled or declined by her.
IMPOSSIBLE: dict[tuple[str, str, str | None], str] = {
    **{
        (role, "author", None): "cannot make suggestions"
        for role in ("anonymous", "coach", "agent", "auditor", "no_permissions")
    },
    **{
        ("anonymous", rel, None): "nobody signed in has no relationship"
        for rel in RELATIONSHIPS
        if rel not in ("author", "unrelated")
    },
    **{
        ("no_permissions", "coach", state): "she cannot see it, so cannot schedule it"
        for state in AFTER_SCHEDULING
    },
    ("no_permissions", "coach", "declined_by_coach"): "she cannot see it, so cannot decline it",
    **{
        ("no_permissions", rel, "acknowledged"): "she cannot see it, so cannot acknowledge it"
        for rel in ("trainee", "trainee_via_group", "attendee_left_group")
    },
}

# --- the endpoints -------------------------------------------------------------------------------
# name -> (method, path, success status). `{id}` is the session; the callers in test_matrix.py
# build each request's body.
SESSION_ENDPOINTS: dict[str, tuple[str, str, int]] = {
    "api.get": ("GET", "/api/v1/coaching-sessions/{id}", 200),
    "api.history": ("GET", "/api/v1/coaching-sessions/{id}/history", 200),
    "api.edit": ("PATCH", "/api/v1/coaching-sessions/{id}", 200),
    "api.delete": ("DELETE", "/api/v1/coaching-sessions/{id}", 204),
    "api.schedule": ("POST", "/api/v1/coaching-sessions/{id}/schedule", 200),
    "api.decline": ("POST", "/api/v1/coaching-sessions/{id}/decline", 200),
    "page.detail": ("GET", "/sessions/{id}/", 200),
    "page.edit_form": ("GET", "/sessions/{id}/edit/", 200),
    "page.edit": ("POST", "/sessions/{id}/edit/", 302),
    "page.delete_form": ("GET", "/sessions/{id}/delete/", 200),
    "page.delete": ("POST", "/sessions/{id}/delete/", 302),
    "page.schedule_form": ("GET", "/sessions/{id}/schedule/", 200),
    "page.schedule": ("POST", "/sessions/{id}/schedule/", 302),
    "page.decline_form": ("GET", "/sessions/{id}/decline/", 200),
    "page.decline": ("POST", "/sessions/{id}/decline/", 302),
    "api.reschedule": ("POST", "/api/v1/coaching-sessions/{id}/reschedule", 200),
    "api.cancel": ("POST", "/api/v1/coaching-sessions/{id}/cancel", 200),
    "api.complete": ("POST", "/api/v1/coaching-sessions/{id}/complete", 200),
    "api.acknowledge": ("POST", "/api/v1/coaching-sessions/{id}/acknowledge", 200),
    "api.free_slots": ("GET", "/api/v1/coaching-sessions/{id}/free-slots?duration_minutes=30", 200),
    "page.reschedule_form": ("GET", "/sessions/{id}/reschedule/", 200),
    "page.reschedule": ("POST", "/sessions/{id}/reschedule/", 302),
    "page.cancel_form": ("GET", "/sessions/{id}/cancel/", 200),
    "page.cancel": ("POST", "/sessions/{id}/cancel/", 302),
    "page.complete_form": ("GET", "/sessions/{id}/complete/", 200),
    "page.complete": ("POST", "/sessions/{id}/complete/", 302),
    "page.acknowledge_form": ("GET", "/sessions/{id}/acknowledge/", 200),
    "page.acknowledge": ("POST", "/sessions/{id}/acknowledge/", 302),
    # Data-driven coaching (api-v1 Additions of 2026-12-01): the effect of a completed session
    "api.effect": ("GET", "/api/v1/coaching-sessions/{id}/effect", 200),
}

API = {e for e in SESSION_ENDPOINTS if e.startswith("api.")}
PAGES = {e for e in SESSION_ENDPOINTS if e.startswith("page.")}
ALL = API | PAGES
READ = {"api.get", "api.history", "page.detail", "api.effect"}
EDIT = {"api.edit", "page.edit_form", "page.edit"}
DELETE = {"api.delete", "page.delete_form", "page.delete"}
SCHEDULE = {"api.schedule", "page.schedule_form", "page.schedule"}
DECLINE = {"api.decline", "page.decline_form", "page.decline"}
RESCHEDULE = {"api.reschedule", "page.reschedule_form", "page.reschedule"}
CANCEL = {"api.cancel", "page.cancel_form", "page.cancel"}
COMPLETE = {"api.complete", "page.complete_form", "page.complete"}
ACKNOWLEDGE = {"api.acknowledge", "page.acknowledge_form", "page.acknowledge"}
FREE_SLOTS = {"api.free_slots"}
COACH = {"coach", "coach_via_group"}
TRAINEE = {"trainee", "trainee_via_group"}
NOW_TRAINEE = TRAINEE | {"trainee_joined_later"}  # a trainee as the groups stand now
INVITED = TRAINEE | {"attendee_left_group"}  # on the invitation list (decisions.md: invited)

# The API's `actions` of a session (api-v1: "each true exactly when the caller's request would
# be accepted now"): the verb -> the endpoint whose row says so.
ACTIONS = {
    "edit": "api.edit",
    "delete": "api.delete",
    "schedule": "api.schedule",
    "decline": "api.decline",
    "reschedule": "api.reschedule",
    "cancel": "api.cancel",
    "complete": "api.complete",
    "acknowledge": "api.acknowledge",
}


def sees_scores_of_others(role: str) -> bool:
    """decisions.md Visibility: View Analytics opens any agent's analytics page (their scores); an
    agent without it opens only their own."""
    return role in ANALYTICS


def reads_notes(role: str, relationship: str) -> bool:
    """decisions.md: the notes of a completed session are visible to its coach, its trainees, its
    author and QM Admins, not to other viewers of the analytics pages."""
    return role == "qm_admin" or relationship in {"author"} | COACH | NOW_TRAINEE | INVITED


@dataclass(frozen=True)
class Row:
    endpoints: set[str] | None
    roles: set[str] | None
    relationships: set[str] | None
    states: set[str] | None
    outcome: int | str
    why: str
    code: str | None = None  # the API problem's code, when not the status's usual one

    def matches(self, endpoint: str, role: str, relationship: str, state: str) -> bool:
        return all(
            allowed is None or value in allowed
            for allowed, value in (
                (self.endpoints, endpoint),
                (self.roles, role),
                (self.relationships, relationship),
                (self.states, state),
            )
        )


R = Row
# fmt: off
SESSION_TABLE: list[Row] = [
    # endpoints      roles                 relationships                      states                      outcome
    R(API,           {"anonymous"},        ANY,                               ANY,                        401,   "api-v1 Errors: no or bad credentials -> 401"),
    R(PAGES,         {"anonymous"},        ANY,                               ANY,                        LOGIN, "pages are for people signed in"),
    R(ALL,           {"no_permissions"},   ANY,                               ANY,                        404,   "Visibility: without View Suggestions nothing is shown; a session one may not see answers 404"),
    R(DECLINE,       {"agent"},            TRAINEE,                           CANCELED_BEFORE_SCHEDULING, 409,   "README: a trainee who loses the race to close it is told it is closed (409), not 404"),
    R(ALL,           {"agent"},            TRAINEE | {"case_participant"},    CANCELED_BEFORE_SCHEDULING, 404,   "Visibility: an agent never sees a session that was canceled while still suggested"),
    R(ALL,           {"agent"},            {"unrelated"},                     ANY,                        404,   "Visibility: without View Analytics, an agent sees only their own sessions and cases"),
    R(READ,          ANY,                  ANY,                               ANY,                        OK,    "Visibility: whoever may open an analytics page sees the sessions listed there"),
    R(EDIT | DELETE, {"qm_admin"},         ANY,                               OPEN,                       OK,    "Who may do what: edit, delete: the author (with Create Suggestions); QM Admin; suggested"),
    R(EDIT | DELETE, {"supervisor"},       {"author"},                        OPEN,                       OK,    "Who may do what: edit, delete: the author (with Create Suggestions); QM Admin; suggested"),
    R(EDIT | DELETE, {"qm_admin"},         ANY,                               CLOSED,                     409,   "api-v1 Errors: 409 when no longer in a state that allows this"),
    R(EDIT | DELETE, {"supervisor"},       {"author"},                        CLOSED,                     409,   "api-v1 Errors: 409 when no longer in a state that allows this"),
    R(EDIT | DELETE, ANY,                  ANY,                               ANY,                        403,   "Visibility: seeing a session is not acting on it (403)"),
    R(SCHEDULE,      ANY,                  COACH,                             OPEN,                       OK,    "Who may do what: schedule: the coach, or any member of the coach group; suggested"),
    R(SCHEDULE,      ANY,                  COACH,                             CLOSED,                     409,   "Concurrency: the others get a clear already scheduled/canceled error (409)"),
    R(SCHEDULE,      ANY,                  ANY,                               ANY,                        403,   "Visibility: seeing a session is not acting on it (403)"),
    R(DECLINE,       ANY,                  COACH | TRAINEE,                   OPEN,                       OK,    "Who may do what: decline: the coach (or coach-group member), any trainee (direct or via group)"),
    R(DECLINE,       ANY,                  COACH | NOW_TRAINEE,               CLOSED,                     409,   "Concurrency: the others get a clear already scheduled/canceled error (409)"),
    R(DECLINE,       ANY,                  ANY,                               ANY,                        403,   "Visibility: seeing a session is not acting on it (403)"),
    # After scheduling (decisions.md, 2026-12-01)
    R(RESCHEDULE,    ANY,                  COACH,                             SCHEDULED,                  OK,    "After scheduling: reschedule: the coach (user, or any member of the coach group); scheduled"),
    R(RESCHEDULE,    ANY,                  COACH,                             ANY,                        409,   "api-v1 Errors: 409 when no longer in a state that allows this"),
    R(RESCHEDULE,    ANY,                  ANY,                               ANY,                        403,   "Visibility: seeing a session is not acting on it (403)"),
    R(CANCEL,        ANY,                  COACH,                             SCHEDULED,                  OK,    "After scheduling: cancel: the coach; QM Admin; scheduled"),
    R(CANCEL,        {"qm_admin"},         ANY,                               SCHEDULED,                  OK,    "After scheduling: cancel: the coach; QM Admin; scheduled"),
    R(CANCEL,        {"qm_admin"},         ANY,                               ANY,                        409,   "api-v1 Errors: 409 when no longer in a state that allows this"),
    R(CANCEL,        ANY,                  COACH,                             ANY,                        409,   "api-v1 Errors: 409 when no longer in a state that allows this"),
    R(CANCEL,        ANY,                  ANY,                               ANY,                        403,   "Visibility: seeing a session is not acting on it (403)"),
    R(COMPLETE,      ANY,                  COACH,                             {"scheduled_started"},      OK,    "After scheduling: complete: the coach; scheduled, and its start has passed"),
    R(COMPLETE,      ANY,                  COACH,                             ANY,                        409,   "api-v1 Additions: complete before the start -> 409 invalid_state (and when not scheduled)"),
    R(COMPLETE,      ANY,                  ANY,                               ANY,                        403,   "Visibility: seeing a session is not acting on it (403)"),
    R(ACKNOWLEDGE,   ANY,                  INVITED,                           {"completed"},              OK,    "After scheduling: acknowledge: each trainee user (direct or through a group, as invited), once; completed"),
    R(ACKNOWLEDGE,   ANY,                  INVITED,                           {"acknowledged"},           409,   "api-v1 Additions: acknowledge twice -> 409 already_acknowledged", code="already_acknowledged"),
    R(ACKNOWLEDGE,   ANY,                  INVITED,                           ANY,                        409,   "api-v1 Errors: 409 when no longer (or not yet) in a state that allows this"),
    R(ACKNOWLEDGE,   ANY,                  ANY,                               ANY,                        403,   "Visibility: seeing a session is not acting on it (403); trainees are invited when it is scheduled"),
    R(FREE_SLOTS,    ANY,                  COACH,                             ANY,                        OK,    "After scheduling: free slots are proposed to the coach (api-v1 Additions: no state named)"),
    R(FREE_SLOTS,    ANY,                  ANY,                               ANY,                        403,   "Visibility: seeing a session is not acting on it (403)"),
]
# fmt: on

# --- everything that is not one session: directory, notifications, sign-in, lists, pages ----------
# name -> (method, path, success status). `{case}`, `{agent}`, `{notification}` are filled per
# relationship: the caller's own case / page / notification, or someone else's.
OTHER_ENDPOINTS: dict[str, tuple[str, str, int]] = {
    "api.token": ("POST", "/api/v1/auth/token", 200),
    "api.me": ("GET", "/api/v1/me", 200),
    "api.users": ("GET", "/api/v1/users", 200),
    "api.user_delete": ("DELETE", "/api/v1/users/{user}", 204),
    "api.user_groups": ("GET", "/api/v1/user-groups", 200),
    "api.user_group": ("GET", "/api/v1/user-groups/{group}", 200),
    "api.cases": ("GET", "/api/v1/cases", 200),
    "api.case": ("GET", "/api/v1/cases/{case}", 200),
    "api.coaching_areas": ("GET", "/api/v1/coaching-areas", 200),
    "api.suggest": ("POST", "/api/v1/coaching-sessions", 201),
    "api.list": ("GET", "/api/v1/coaching-sessions", 200),
    "api.prefill": ("GET", "/api/v1/coaching-sessions/prefill?agent={agent}", 200),
    "api.notifications": ("GET", "/api/v1/notifications", 200),
    "api.notification_read": ("POST", "/api/v1/notifications/{notification}/read", 204),
    "api.notifications_read_all": ("POST", "/api/v1/notifications/read-all", 204),
    "api.openapi": ("GET", "/api/v1/openapi.json", 200),
    "api.docs": ("GET", "/api/v1/docs", 200),
    "api.root": ("GET", "/api/v1/", 404),
    "page.login": ("GET", "/login/", 200),
    "page.logout": ("POST", "/logout/", 302),
    "page.home": ("GET", "/", 200),
    "page.widget": ("GET", "/widgets/coaching/", 200),
    "page.session_new": ("GET", "/sessions/new/", 200),
    "page.agent": ("GET", "/agents/{agent}/", 200),
    "page.case": ("GET", "/cases/{case}/", 200),
    "page.search_agents": ("GET", "/search/agents/?q=a", 200),
    "page.search_cases": ("GET", "/search/cases/?q=c", 200),
    "page.lookup_parties": ("GET", "/lookup/parties/?q=co", 200),
    "page.lookup_cases": ("GET", "/lookup/cases/?q=case", 200),
    "page.notifications": ("GET", "/notifications/", 200),
    "page.bell": ("GET", "/notifications/bell/", 200),
    "page.notification_read": ("POST", "/notifications/{notification}/read/", 302),
    "page.notification_open": ("GET", "/notifications/{notification}/open/", 302),
    "page.notifications_read_all": ("POST", "/notifications/read-all/", 302),
    "page.admin": ("GET", "/admin/", 200),
    "page.suggest": ("POST", "/sessions/new/", 302),
    "page.section": ("GET", "/widgets/coaching/authored-past/", 200),
    "page.section_agent": ("GET", "/widgets/coaching/trainee/?agent={agent}", 200),
    # After scheduling (api-v1 Additions of 2026-12-01): one's own calendar and working hours
    "api.my_calendar": ("GET", "/api/v1/me/calendar", 200),
    "api.my_calendar_rotate": ("POST", "/api/v1/me/calendar/rotate", 200),
    "api.working_hours": ("GET", "/api/v1/me/working-hours", 200),
    "api.working_hours_put": ("PUT", "/api/v1/me/working-hours", 200),
    "page.profile": ("GET", "/profile/", 200),
    "page.profile_save": ("POST", "/profile/", 302),
    "page.profile_rotate": ("POST", "/profile/", 302),
    "page.calendar_feed": ("GET", "{feed}", 200),
    # Data-driven coaching (api-v1 Additions of 2026-12-01, "Evaluations and rules"). `{rule}` is
    # the world's one coaching rule, `{trainee}` the stand-in trainee of every session.
    "api.similar": (
        "GET",
        "/api/v1/coaching-sessions/similar?trainee={trainee}&coaching_area_id={area}",
        200,
    ),
    "api.evaluations_ingest": ("POST", "/api/v1/evaluations", 200),
    "api.evaluations": ("GET", "/api/v1/evaluations?agent={trainee}", 200),
    "api.rules": ("GET", "/api/v1/coaching-rules", 200),
    "api.rule_create": ("POST", "/api/v1/coaching-rules", 201),
    "api.rule": ("GET", "/api/v1/coaching-rules/{rule}", 200),
    "api.rule_edit": ("PATCH", "/api/v1/coaching-rules/{rule}", 200),
    "api.rule_delete": ("DELETE", "/api/v1/coaching-rules/{rule}", 204),
    "api.report": ("GET", "/api/v1/reports/coaching-effect?group_by=coach", 200),
    "page.rules": ("GET", "/rules/", 200),
    "page.rule_new": ("GET", "/rules/new/", 200),
    "page.rule_create": ("POST", "/rules/new/", 302),
    "page.rule_edit_form": ("GET", "/rules/{rule}/edit/", 200),
    "page.rule_edit": ("POST", "/rules/{rule}/edit/", 302),
    "page.rule_delete_form": ("GET", "/rules/{rule}/delete/", 200),
    "page.rule_delete": ("POST", "/rules/{rule}/delete/", 302),
    "page.report": ("GET", "/reports/coaching-effect/", 200),
    "page.similar": (
        "GET",
        "/sessions/similar/?trainees=user:{trainee}&coaching_area_id={area}",
        200,
    ),
}

# The relationships these endpoints know: to a case (took part / not), to an agent's page (one's
# own / someone else's), to a notification (one's own / someone else's). Others: "unrelated".
OTHER_RELATIONSHIPS: dict[str, tuple[str, ...]] = {
    "api.case": ("case_participant", "unrelated"),
    "page.case": ("case_participant", "unrelated"),
    "page.agent": ("self", "unrelated"),
    "api.notification_read": ("recipient", "unrelated"),
    "page.notification_read": ("recipient", "unrelated"),
    "page.notification_open": ("recipient", "unrelated"),
    "page.section_agent": ("self", "unrelated"),
    # The feed's address: the role's own (for nobody: someone's), one made before a rotation, or
    # one with a wrong secret. The address is the credential, so it is the same signed in or not.
    "page.calendar_feed": ("valid_address", "rotated_address", "wrong_secret"),
}
ANONYMOUS_RELATIONSHIPS = {"unrelated", "valid_address", "rotated_address", "wrong_secret"}

O_API = {e for e in OTHER_ENDPOINTS if e.startswith("api.")}
O_PAGES = {e for e in OTHER_ENDPOINTS if e.startswith("page.")}
PUBLIC = {"api.token", "api.openapi", "api.docs", "page.login", "page.logout"}
ANALYTICS = {"qm_admin", "supervisor", "coach", "auditor"}  # hold View Analytics (or QM Admin)
CREATORS = {"qm_admin", "supervisor"}  # hold Create Suggestions
SIGNED_IN = set(ROLES) - {"anonymous"}
NOT_STAFF = set(ROLES) - {"qm_admin"}
NOTIFICATION = {"api.notification_read", "page.notification_read", "page.notification_open"}
SUGGEST = {"api.suggest", "api.prefill", "page.session_new", "page.suggest"}
ANALYTICS_PAGES = {"api.case", "page.agent", "page.case", "page.section_agent"}
OWN_SETTINGS = {
    "api.my_calendar",
    "api.my_calendar_rotate",
    "api.working_hours",
    "api.working_hours_put",
    "page.profile",
    "page.profile_save",
    "page.profile_rotate",
}
RULES = {e for e in OTHER_ENDPOINTS if e.startswith(("api.rule", "page.rule"))}
REPORT = {"api.report", "page.report"}
REPORT_READERS = {"qm_admin", "supervisor"}  # the Supervisor role, or QM Admin

# fmt: off
OTHER_TABLE: list[Row] = [
    # endpoints                         roles                  relationships  (states) outcome
    R({"api.token"},                    {"anonymous"},         ANY,                ANY, 401,   "api-v1 Authentication: wrong credentials -> 401"),
    R({"api.root"},                     ANY,                   ANY,                ANY, 404,   "the API's root is no resource: 404 problem+json, signed in or not"),
    R({"page.calendar_feed"},           ANY,                   {"valid_address"},  ANY, OK,    "api-v1 Additions: the feed itself (text/calendar) needs no other credential"),
    R({"page.calendar_feed"},           ANY,                   ANY,                ANY, 404,   "api-v1 Additions: after a rotation the old URL stops working (a wrong secret is no feed)"),
    R({"page.login"},                   SIGNED_IN,             ANY,                ANY, 302,   "a signed-in user is sent on from the sign-in page"),
    R(PUBLIC,                           ANY,                   ANY,                ANY, OK,    "sign-in, sign-out and the API's docs need no account"),
    R(O_API,                            {"anonymous"},         ANY,                ANY, 401,   "api-v1 Errors: no or bad credentials -> 401"),
    R({"page.admin"},                   NOT_STAFF,             ANY,                ANY, ADMIN_LOGIN, "the admin site is for QM Admins (staff)"),
    R(O_PAGES,                          {"anonymous"},         ANY,                ANY, LOGIN, "pages are for people signed in"),
    R(NOTIFICATION,                     ANY,                   {"unrelated"},      ANY, 404,   "api-v1: a notification is its recipient's; someone else's does not exist to the caller"),
    R({"api.user_delete"},              {"qm_admin"},          ANY,                ANY, OK,    "api-v1: DELETE /users/{id} (QM Admin only)"),
    R({"api.user_delete"},              ANY,                   ANY,                ANY, 403,   "api-v1: DELETE /users/{id} (QM Admin only)"),
    R(RULES,                            {"qm_admin"},          ANY,                ANY, OK,    "Data-driven coaching: Coaching rules (QM Admin); api-v1: /coaching-rules (QM Admin)"),
    R(RULES,                            ANY,                   ANY,                ANY, 403,   "Data-driven coaching: Coaching rules (QM Admin); api-v1: /coaching-rules (QM Admin)"),
    R(REPORT,                           REPORT_READERS,        ANY,                ANY, OK,    "Data-driven coaching: a report for supervisors and QM Admins"),
    R(REPORT,                           ANY,                   ANY,                ANY, 403,   "api-v1: /reports/coaching-effect for supervisors and QM Admins (403 otherwise)"),
    R({"api.evaluations_ingest"},       {"qm_admin"},          ANY,                ANY, OK,    "Data-driven coaching: permission import_evaluations (QM Admin has it)"),
    R({"api.evaluations_ingest"},       ANY,                   ANY,                ANY, 403,   "api-v1 Errors: authenticated but lacks the permission (import_evaluations) -> 403"),
    R(OWN_SETTINGS,                     SIGNED_IN,             ANY,                ANY, OK,    "After scheduling: each user's working hours (a profile setting) and private calendar feed (revocable)"),
    R(SUGGEST,                          CREATORS,              ANY,                ANY, OK,    "Who may do what: suggest: has Create Suggestions"),
    R(SUGGEST,                          ANY,                   ANY,                ANY, 403,   "Permissions: without Create Suggestions one cannot suggest"),
    R({"page.section", "page.section_agent"}, {"no_permissions"}, ANY,             ANY, 403,   "Visibility: without View Suggestions, no suggested-sessions section is shown anywhere"),
    R({"api.list", "page.lookup_parties", "page.lookup_cases"}, {"no_permissions"}, ANY, ANY, 403, "Visibility: without View Suggestions, no suggested-sessions section (API: 403); the form's pickers are for those who use the form"),
    R({"api.similar", "page.similar"},  {"no_permissions"},    ANY,                ANY, 403,   "Visibility: without View Suggestions, no sessions listed (API: 403); the form's duplicate warning is for those who use the form, as its pickers"),
    R({"api.evaluations"},              SIGNED_IN,             ANY,                ANY, OK,    "api-v1 names no permission; Visibility: every agent's scores with View Analytics, one's own without (checked in the body)"),
    R(ANALYTICS_PAGES,                  ANALYTICS,             ANY,                ANY, OK,    "Visibility: View Analytics opens any agent's or case's analytics page"),
    R(ANALYTICS_PAGES,                  ANY,                   {"case_participant", "self"}, ANY, OK, "Visibility: without it, one opens only one's own page and the cases one took part in"),
    R({"api.case"},                     ANY,                   ANY,                ANY, 404,   "api-v1: a case the caller may not open answers 404"),
    R(ANALYTICS_PAGES,                  ANY,                   ANY,                ANY, 403,   "Visibility: without View Analytics, not another agent's page or case (the page says why)"),
    R(ANY,                              ANY,                   ANY,                ANY, OK,    "everything else is open to everyone signed in: own notifications, directory lists, pages"),
]
# fmt: on
