"""The JSON API's routers of inspections (config/api.py), one per sub-package."""

from __future__ import annotations

from ninja import Router

from inspections.grading.api import router as grading_router
from inspections.sites.api import router as sites_router

router = Router()
router.add_router("", sites_router)
router.add_router("", grading_router)
