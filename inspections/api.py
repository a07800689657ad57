"""The JSON API's routers of inspections (config/api.py), one per sub-package."""

from __future__ import annotations

from ninja import Router

router = Router()
