from __future__ import annotations

from django.tasks import task

from . import reminders, services


@task(queue_name="default")
def expire_suggestion(session_id: int) -> bool:
    """Runs at the suggestion's Expiry Time. When the author moved the expiry later, this early
    task finds the suggestion not yet due and does nothing; the later task does the work."""
    return services.session_expire(session_id=session_id)


@task(queue_name="default")
def send_reminder(reminder_id: int) -> bool:
    """Runs at the reminder's moment; does nothing when another worker or the sweep sent it, or
    when the session moved or closed meanwhile."""
    return reminders.reminder_send(reminder_id=reminder_id)
