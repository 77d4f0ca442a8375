"""Helpers for tests and benchmarks: run queued background tasks in this process."""

from __future__ import annotations

from django.db import transaction
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


def drain_tasks(*, max_tasks: int = 10_000) -> int:
    """Run every task that is due now (respecting `run_after`), as `db_worker --batch` would.
    Returns how many ran. Tasks that a task enqueues for later are left for a later call."""
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    ran = 0
    while ran < max_tasks:
        with transaction.atomic():
            task = DBTaskResult.objects.ready().get_locked()
            if task is None:
                return ran
            task.claim(worker.worker_id)
        worker.run_task(task)
        ran += 1
    return ran
