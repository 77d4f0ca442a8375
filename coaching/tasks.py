from __future__ import annotations

from django.tasks import task

from . import services


@task(queue_name="default")
def expire_suggestion(session_id: int) -> bool:
    """Runs at the suggestion's Expiry Time. When the author moved the expiry later, this early
    task finds the suggestion not yet due and does nothing; the later task does the work."""
    return services.session_expire(session_id=session_id)
