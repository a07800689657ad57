"""The `--county` option of the commands that make or read a county's own objects (checklists):
a county by its code, or the only county of the database when none is named."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from villages.models import County


def add_county_argument(parser) -> None:
    parser.add_argument("--county", help=_("the county's 12-digit code (default: the only county)"))


def county_named(code: str | None) -> County:
    """The county `code` names, or the only one; CommandError saying which exist otherwise."""
    counties = County.objects.order_by("code")
    if code:
        county = counties.filter(code=code).first()
        if county is None:
            raise CommandError(_("No county with the code %(code)s.") % {"code": code})
        return county
    found = list(counties[:2])
    if len(found) == 1:
        return found[0]
    if not found:
        raise CommandError(_("There is no county yet: run init_county first."))
    names = "、".join(f"{county.name} {county.code}" for county in counties)
    raise CommandError(
        _("The database holds several counties (%(names)s): name one with --county.")
        % {"names": names}
    )
