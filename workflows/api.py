"""The JSON API's routers of workflows (config/api.py), one per sub-package (bulletins: one for
the county's series, one for the city's, under /city-bulletins)."""

from __future__ import annotations

from ninja import Router

from workflows.bulletins.api import router as bulletins_router
from workflows.bulletins.city_api import router as city_bulletins_router
from workflows.notices.api import router as notices_router
from workflows.tickets.api import router as tickets_router

router = Router()
router.add_router("", tickets_router)
router.add_router("", bulletins_router)
router.add_router("/city-bulletins", city_bulletins_router)
router.add_router("", notices_router)
