"""The authorization matrix: who gets which answer from every API endpoint and every page.

Read it as the spec. Each table is a list of rows; for a request, the FIRST row that matches its
endpoint, the caller's role, the caller's relationship to the session and the session's state
gives the expected outcome. `ANY` matches everything. Every row cites the sentence of
`shared/spec/decisions.md` (or `api-v1.md`, or README.md where the spec is silent) it comes
from. The tests in `test_matrix.py` expand the tables into every cell and check each one; they
also check that every cell is matched by some row and every row matches some cell.

Outcomes: a status code, `OK` (the endpoint's success status, in ENDPOINTS), `LOGIN` (302 to the
sign-in page) or `ADMIN_LOGIN` (302 to the admin's sign-in page).
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
)

# --- the session's state -------------------------------------------------------------------------
STATES = (
    "suggested",
    "expired_unrecorded",  # Expiry Time passed, the worker has not recorded it yet
    "scheduled",
    "deleted_by_supervisor",
    "declined_by_coach",
    "declined_by_trainee",
    "expired",  # recorded by the worker
)
OPEN = {"suggested"}
CLOSED = set(STATES) - OPEN
CANCELED_BEFORE_SCHEDULING = CLOSED - {"scheduled"}

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
    ("no_permissions", "coach", "scheduled"): "she cannot see it, so cannot schedule it",
    ("no_permissions", "coach", "declined_by_coach"): "she cannot see it, so cannot decline it",
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
}

API = {e for e in SESSION_ENDPOINTS if e.startswith("api.")}
PAGES = {e for e in SESSION_ENDPOINTS if e.startswith("page.")}
ALL = API | PAGES
READ = {"api.get", "api.history", "page.detail"}
EDIT = {"api.edit", "page.edit_form", "page.edit"}
DELETE = {"api.delete", "page.delete_form", "page.delete"}
SCHEDULE = {"api.schedule", "page.schedule_form", "page.schedule"}
DECLINE = {"api.decline", "page.decline_form", "page.decline"}
COACH = {"coach", "coach_via_group"}
TRAINEE = {"trainee", "trainee_via_group"}


@dataclass(frozen=True)
class Row:
    endpoints: set[str] | None
    roles: set[str] | None
    relationships: set[str] | None
    states: set[str] | None
    outcome: int | str
    why: str

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
    R(DECLINE,       ANY,                  COACH | TRAINEE,                   CLOSED,                     409,   "Concurrency: the others get a clear already scheduled/canceled error (409)"),
    R(DECLINE,       ANY,                  ANY,                               ANY,                        403,   "Visibility: seeing a session is not acting on it (403)"),
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
}

O_API = {e for e in OTHER_ENDPOINTS if e.startswith("api.")}
O_PAGES = {e for e in OTHER_ENDPOINTS if e.startswith("page.")}
PUBLIC = {"api.token", "api.openapi", "api.docs", "page.login", "page.logout"}
ANALYTICS = {"qm_admin", "supervisor", "coach", "auditor"}  # hold View Analytics (or QM Admin)
CREATORS = {"qm_admin", "supervisor"}  # hold Create Suggestions
SIGNED_IN = set(ROLES) - {"anonymous"}
NOT_STAFF = set(ROLES) - {"qm_admin"}
NOTIFICATION = {"api.notification_read", "page.notification_read", "page.notification_open"}

# fmt: off
OTHER_TABLE: list[Row] = [
    # endpoints                         roles                  relationships  (states) outcome
    R({"api.token"},                    {"anonymous"},         ANY,                ANY, 401,   "api-v1 Authentication: wrong credentials -> 401"),
    R({"page.login"},                   SIGNED_IN,             ANY,                ANY, 302,   "a signed-in user is sent on from the sign-in page"),
    R(PUBLIC,                           ANY,                   ANY,                ANY, OK,    "sign-in, sign-out and the API's docs need no account"),
    R(O_API,                            {"anonymous"},         ANY,                ANY, 401,   "api-v1 Errors: no or bad credentials -> 401"),
    R({"page.admin"},                   NOT_STAFF,             ANY,                ANY, ADMIN_LOGIN, "the admin site is for QM Admins (staff)"),
    R(O_PAGES,                          {"anonymous"},         ANY,                ANY, LOGIN, "pages are for people signed in"),
    R(NOTIFICATION,                     ANY,                   {"unrelated"},      ANY, 404,   "api-v1: a notification is its recipient's; someone else's does not exist to the caller"),
    R({"api.user_delete"},              {"qm_admin"},          ANY,                ANY, OK,    "api-v1: DELETE /users/{id} (QM Admin only)"),
    R({"api.user_delete"},              ANY,                   ANY,                ANY, 403,   "api-v1: DELETE /users/{id} (QM Admin only)"),
    R({"api.suggest", "api.prefill", "page.session_new"}, CREATORS, ANY,           ANY, OK,    "Who may do what: suggest: has Create Suggestions"),
    R({"api.suggest", "api.prefill", "page.session_new"}, ANY,  ANY,               ANY, 403,   "Permissions: without Create Suggestions one cannot suggest"),
    R({"api.list", "page.lookup_parties", "page.lookup_cases"}, {"no_permissions"}, ANY, ANY, 403, "Visibility: without View Suggestions, no suggested-sessions section (API: 403); the form's pickers are for those who use the form"),
    R({"api.case", "page.agent", "page.case"}, ANALYTICS,      ANY,                ANY, OK,    "Visibility: View Analytics opens any agent's or case's analytics page"),
    R({"api.case", "page.agent", "page.case"}, ANY,            {"case_participant", "self"}, ANY, OK, "Visibility: without it, one opens only one's own page and the cases one took part in"),
    R({"api.case"},                     ANY,                   ANY,                ANY, 404,   "api-v1: a case the caller may not open answers 404"),
    R({"page.agent", "page.case"},      ANY,                   ANY,                ANY, 403,   "Visibility: without View Analytics, not another agent's page or case (the page says why)"),
    R(ANY,                              ANY,                   ANY,                ANY, OK,    "everything else is open to everyone signed in: own notifications, directory lists, pages"),
]
# fmt: on
