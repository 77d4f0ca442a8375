"""The reports API (see ../shared/spec/api-v1.md, additions of 2026-12-01)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["reports"])
