from __future__ import annotations

from django.tasks import task

from . import delivery


@task(queue_name="default")
def deliver_email(notification_id: int) -> str:
    return delivery.deliver(notification_id)
