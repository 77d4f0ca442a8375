"""`page()`: the items of each page and the list's total, whether the total is counted or told
by a page that is not full."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.api_common import page
from directory.models import CoachingArea


@pytest.mark.parametrize("size", [0, 1, 5])
def test_every_page_of_every_size_tells_the_true_total(org, size):
    CoachingArea.objects.all().delete()
    CoachingArea.objects.bulk_create([CoachingArea(name=f"Area {i}") for i in range(size)])
    qs = CoachingArea.objects.order_by("name")
    names = [f"Area {i}" for i in range(size)]
    for limit in (1, 2, 5, 10):
        for offset in (0, 1, 4, 5, 6, 20):
            with CaptureQueriesContext(connection) as ctx:
                items, count = page(qs, limit=limit, offset=offset)
            assert [a.name for a in items] == names[offset : offset + limit], (limit, offset)
            assert count == size, (limit, offset)
            # Counted only when the page cannot tell: full, or empty past the start.
            counted = len(items) == limit or (offset > 0 and not items)
            assert len(ctx.captured_queries) == (2 if counted else 1), (limit, offset)
