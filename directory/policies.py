"""Who may open which analytics page."""

from __future__ import annotations

from directory.models import Case, CaseParticipant, User
from directory.permissions import Perm, has_perm, is_qm_admin


def may_view_agent_page(viewer: User, agent: User) -> bool:
    """View Analytics opens any agent's page; without it, an agent opens only their own."""
    if not viewer.is_authenticated or not viewer.is_active:
        return False
    return viewer.pk == agent.pk or has_perm(viewer, Perm.VIEW_ANALYTICS) or is_qm_admin(viewer)


def may_view_case_page(viewer: User, case: Case) -> bool:
    """View Analytics opens any case's page; without it, only the cases one took part in."""
    if not viewer.is_authenticated or not viewer.is_active:
        return False
    if has_perm(viewer, Perm.VIEW_ANALYTICS) or is_qm_admin(viewer):
        return True
    return CaseParticipant.objects.filter(case=case, user=viewer).exists()
