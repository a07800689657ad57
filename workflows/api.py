"""The JSON API's routers of workflows (config/api.py), one per sub-package."""

from __future__ import annotations

from ninja import Router

from workflows.tickets.api import router as tickets

router = Router()
router.add_router("", tickets)
