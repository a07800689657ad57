"""QR labels for water-site signboards: what a label says, and how big its code is printed.

Sizing (templates/inspections/labels.html): two labels per A4 sheet, each 190 × 135 mm inside
10 mm page margins, cut apart along the dashed border and laminated onto the signboard. The QR
is 90 mm square, quiet zone included: as large as the label allows next to the name, the three
responsible people and their phones. A phone camera finds a code from about ten times its
width, so 90 mm reads from about 1 m as is and from 2 m with the zoom WeChat applies by itself;
60 mm would need the inspector at arm's reach of a board that often stands behind a ditch.
A URL of a real host and a 22-character token fits version 5 (37 modules, 45 with the quiet
zone), so a module is 2 mm: a clean edge even from a cheap office laser printer.

Error correction Q (25 % of the code may be lost) rather than M (15 %): boards stand outdoors,
and mud, bird droppings and a torn corner are the usual faults. It costs one version (41 → 45
modules across with the quiet zone, so modules 2.0 mm instead of 2.2 mm), not paper.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

import segno
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from inspections.models import WaterSite

QR_ERROR = "q"
QR_QUIET_ZONE = 4  # modules: the ISO 18004 minimum; less and phones miss the code


@dataclass(frozen=True)
class Responsible:
    level: str
    person: str
    phone: str


@dataclass(frozen=True)
class Label:
    site: WaterSite
    url: str
    qr_svg: SafeString
    location: str
    kind: str
    responsible: tuple[Responsible, ...]
    tagline: str


def label_sheet_context(*, sites: Iterable[WaterSite], base_url: str) -> dict:
    """Template context for a sheet of labels, one per site, in the order given.

    `base_url` is where phones reach this system (scheme and host); the path of the QR URL comes
    from the URL map, so a label always points at the "scan" view."""
    return {"labels": [_label(site, base_url) for site in sites]}


def label_sheet_key(*, sites: Iterable[WaterSite], base_url: str) -> tuple:
    """What a sheet of `sites`' labels depends on, for its cache key: each site's id, version
    (updated_at moves on every save and on the register import's upserts: name, kind, the
    responsible people and their phones) and token (a replaced label), and the names of its
    town, county and village, printed on it but kept in other tables."""
    return (
        base_url,
        tuple(
            (
                site.pk,
                site.updated_at.isoformat(),
                site.token,
                site.town.name,
                site.town.county.name,
                site.village.short_name if site.village else "",
            )
            for site in sites
        ),
    )


def scan_url(site: WaterSite, base_url: str) -> str:
    return urljoin(base_url, reverse("scan", kwargs={"token": site.token}))


def qr_svg(data: str) -> SafeString:
    # No width or height on the <svg>: the stylesheet gives it its size in mm.
    code = segno.make(data, error=QR_ERROR, micro=False)
    svg = code.svg_inline(border=QR_QUIET_ZONE, omitsize=True, svgclass="qr", lineclass=None)
    return mark_safe(svg)  # segno's own markup; the URL is only encoded as modules


def _label(site: WaterSite, base_url: str) -> Label:
    url = scan_url(site, base_url)
    return Label(
        site=site,
        url=url,
        qr_svg=qr_svg(url),
        location=_location(site),
        kind=site.get_kind_display(),
        responsible=_responsible(site),
        tagline=_("Scan to patrol · %(county)s rural black and odorous water bodies")
        % {"county": site.town.county.name},
    )


def _location(site: WaterSite) -> str:
    if site.village is None:
        return site.town.name
    return f"{site.town.name} {site.village.short_name}"


def _responsible(site: WaterSite) -> tuple[Responsible, ...]:
    # The model's own field names ("county-level responsible person" …), so the label and the
    # register use the same words.
    return tuple(
        Responsible(
            level=str(WaterSite._meta.get_field(f"{level}_person").verbose_name),
            person=getattr(site, f"{level}_person"),
            phone=getattr(site, f"{level}_phone"),
        )
        for level in ("county", "town", "village")
    )
