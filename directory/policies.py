"""Who may open which analytics page, and the access functions that fetch an agent or a case for
a viewer and raise the refusal: pages, API and the suggestion form's prefill all call them."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from core.errors import ApplicationError, NotFound, PermissionDenied
from directory.lookups import case_by_id, user_by_id
from directory.models import Case, CaseParticipant, User
from directory.permissions import Perm, has_perm, is_qm_admin


def sees_all_analytics(viewer: User | AnonymousUser) -> bool:
    """View Analytics (or QM Admin) opens every agent's and every case's page, and with it every
    session those pages list."""
    return has_perm(viewer, Perm.VIEW_ANALYTICS) or is_qm_admin(viewer)


def may_view_agent_page(viewer: User, agent: User) -> bool:
    """View Analytics opens any agent's page; without it, an agent opens only their own."""
    if not viewer.is_active:
        return False
    return viewer.pk == agent.pk or sees_all_analytics(viewer)


def may_view_case_page(viewer: User, case: Case) -> bool:
    """View Analytics opens any case's page; without it, only the cases one took part in."""
    if not viewer.is_active:
        return False
    return (
        sees_all_analytics(viewer)
        or CaseParticipant.objects.filter(case=case, user=viewer).exists()
    )


def access_agent(
    viewer: User, agent_id: int, *, require_active: bool = False, hide: bool = False
) -> User:
    """The agent whose Agent Analytics page `viewer` may open.

    NotFound when there is no such user (or, with `require_active`, no such active user: only an
    active user can be picked as trainee). A page the viewer may not open is PermissionDenied,
    naming the permission; with `hide` (the API, which never confirms what one may not see) it is
    NotFound too."""
    agent = user_by_id(agent_id)
    if agent is None or (require_active and not agent.is_active):
        raise NotFound(f"There is no {'active ' if require_active else ''}user with id {agent_id}.")
    if not may_view_agent_page(viewer, agent):
        hidden = f"There is no user with id {agent_id}, or you may not see them."
        raise _refusal(hide, hidden, "another agent's page")
    return agent


def access_case(viewer: User, case_id: int, *, hide: bool = False) -> Case:
    """The case whose Case Analytics page `viewer` may open (see `access_agent` for `hide`)."""
    case = case_by_id(case_id)
    if case is None:
        raise NotFound(f"There is no case with id {case_id}.")
    if not may_view_case_page(viewer, case):
        hidden = f"There is no case with id {case_id}, or you may not see it."
        raise _refusal(hide, hidden, "a case you did not take part in")
    return case


def _refusal(hide: bool, hidden: str, page: str) -> ApplicationError:
    if hide:
        return NotFound(hidden)
    return PermissionDenied(f"You need the View Analytics permission to open {page}.")
