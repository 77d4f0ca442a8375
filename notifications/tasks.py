from __future__ import annotations

from django.tasks import task

from . import delivery


@task(queue_name="default")
def deliver_email(notification_id: int) -> str:
    return delivery.deliver(notification_id)


@task(queue_name="default")
def deliver_emails(notification_ids: list[int]) -> dict[str, int]:
    """The e-mails of one change's notifications, over one connection to the mail server."""
    return delivery.deliver_batch(notification_ids)
