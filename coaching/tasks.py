from __future__ import annotations

from datetime import timedelta

from django.tasks import task

from . import reminders, services


@task(queue_name="default")
def expire_suggestion(session_id: int) -> bool:
    """Runs at the suggestion's Expiry Time. When the author moved the expiry later, this early
    task finds the suggestion not yet due and does nothing; the later task does the work.

    A task that expires its suggestion then expires every other one that is due, in batches:
    when thousands come due at once, the first tasks do the work set-based (each worker taking
    its own batches) and the others find theirs done."""
    if not services.session_expire(session_id=session_id):
        return False
    services.expire_due_suggestions()
    return True


@task(queue_name="default")
def send_reminder(reminder_id: int) -> bool:
    """Runs at the reminder's moment; does nothing when another worker or the sweep sent it, or
    when the session moved or closed meanwhile."""
    return reminders.reminder_send(reminder_id=reminder_id)


@task(queue_name="default")
def send_reminders_due() -> int:
    """Runs at the moment a batch of reminders is due (a coaching rule's suggestions): sends
    every pending reminder due by now, each once (`reminder_send` locks and re-checks)."""
    return reminders.send_due_reminders(grace=timedelta(0))
