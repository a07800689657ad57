"""The services Open311 offers: the categories of a rectification ticket
(workflows.tickets.models.Category — the county checklists' dimensions and "other").

A service code is a category's value, so a request's `service_code` is its ticket's category
and nothing maps between them. None has attributes (`metadata` false): a hotline's description
and position are all a ticket needs; requests are created at once (`type` realtime).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from workflows.models import Category


@dataclass(frozen=True)
class Service:
    code: str
    description: Promise
    keywords: Promise

    @property
    def name(self) -> str:
        return str(Category(self.code).label)

    def as_dict(self) -> dict:
        return {
            "service_code": str(self.code),
            "service_name": self.name,
            "description": str(self.description),
            "metadata": False,
            "type": "realtime",
            "keywords": str(self.keywords),
            "group": str(GROUP),
        }

    def definition(self) -> dict:
        return {"service_code": str(self.code), "attributes": []}


GROUP = _("rural living environment")

SERVICES: dict[str, Service] = {
    str(service.code): service
    for service in (
        Service(
            Category.TOILETS,
            _(
                "Public toilets and rebuilt household toilets: dirty, broken or unused, septic "
                "tanks overflowing. A household's own pumping or repair is a toilet service "
                "ticket, reported by its village admin."
            ),
            _("toilet, public toilet, septic tank"),
        ),
        Service(
            Category.GARBAGE,
            _("Rubbish piled up or dumped, bins full or missing, garbage not collected or burnt."),
            _("garbage, rubbish, dumping, bins"),
        ),
        Service(
            Category.SEWAGE,
            _(
                "Sewage let out in the open; black or smelly ponds, ditches and rivers; new "
                "outfalls."
            ),
            _("sewage, black-odorous water, pond, ditch, outfall"),
        ),
        Service(
            Category.APPEARANCE,
            _(
                "Clutter along roads and in public places, ruined walls, unauthorised "
                "structures, livestock kept in the open."
            ),
            _("clutter, ruined walls, unauthorised structures"),
        ),
        Service(
            Category.MAINTENANCE,
            _(
                "Facilities of the village's environment left without care: broken, not "
                "cleaned, nobody in charge."
            ),
            _("maintenance, cleaning, facilities"),
        ),
        Service(
            Category.OTHER,
            _("Any other problem of the village's living environment."),
            _("other"),
        ),
    )
}


def service_or_none(code: str) -> Service | None:
    return SERVICES.get(code)
