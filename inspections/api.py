"""The JSON API's routers of inspections (config/api.py), one per sub-package."""

from __future__ import annotations

from ninja import Router

from inspections.sites.api import router as sites_router

router = Router()
router.add_router("", sites_router)
