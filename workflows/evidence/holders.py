"""Who may see an evidence photo: whoever may see something that holds it.

A photo has no town of its own: it is evidence of a ticket (before the rectification, or a step
of its timeline), of a toilet job's step, of a patrol, of an assessment's deduction, or printed in
a bulletin. Each kind of holder registers one function

    holders.register("patrol", lambda user: Patrol.objects.visible_to(user).filter(
        photos=OuterRef("pk")))

that returns the holders `user` may see (their own `visible_to`, i.e. villages.access's rules)
holding the photo, correlated to the photo's row by `OuterRef("pk")` (or another of its columns).
`EvidencePhoto.objects.visible_to(user)` ORs one EXISTS per kind into the photo's own query, so
serving a photo costs one query whatever the number of kinds.

workflows registers its own kinds below; inspections registers patrols and deductions from
InspectionsConfig.ready(), since workflows may not import inspections (docs/architecture.md §1).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import reduce
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from workflows.bulletins.models import Bulletin, BulletinState
from workflows.tickets.models import RectificationTicket, ToiletTicket

HolderQuery = Callable[[Any], QuerySet]

# Kind → its query (a module-level registry, filled at import and in AppConfig.ready()).
_HOLDERS: dict[str, HolderQuery] = {}


def register(kind: str, holders: HolderQuery) -> None:
    """Photos held by `kind` are visible to whoever `holders(user)` finds holding them. Again
    with the same kind replaces it (an app registry ready() twice must not double the EXISTS)."""
    _HOLDERS[kind] = holders


def kinds() -> list[str]:
    return list(_HOLDERS)


def held_for(user) -> Q:
    """The condition on EvidencePhoto rows: some holder `user` may see holds the photo."""
    if user is None or not user.is_authenticated or not _HOLDERS:
        return Q(pk__in=[])
    return reduce(operator.or_, (Q(Exists(holders(user))) for holders in _HOLDERS.values()))


# --- workflows' own holders -------------------------------------------------------------------


def _ticket_before_photos(user) -> QuerySet:
    return RectificationTicket.objects.visible_to(user).filter(before_photos=OuterRef("pk"))


def _ticket_steps(user) -> QuerySet:
    # The timeline shows every step's photos (the after-photos of each submission among them).
    return RectificationTicket.objects.visible_to(user).filter(events__photos=OuterRef("pk"))


def _toilet_steps(user) -> QuerySet:
    # A toilet job's report photos and its worker's are photos of its steps; its own visible_to
    # lets the dispatched worker see them wherever the job is.
    return ToiletTicket.objects.visible_to(user).filter(events__photos=OuterRef("pk"))


def _bulletins(user) -> QuerySet:
    """Bulletins `user` may read showing the photo. An issued one shows the display copies frozen
    into its snapshot (by file name); a draft's preview, its tickets' first before-photos. The
    join finds the few bulletins naming a ticket that holds the photo; the snapshot's text then
    says whether it is one of those printed (a reader of a bulletin addressed to his town sees
    what it printed of another town's problem, not the rest of that ticket's photos)."""
    return Bulletin.objects.visible_to(user).filter(
        Q(state=BulletinState.DRAFT) | Q(snapshot__icontains=OuterRef("display")),
        items__ticket__before_photos=OuterRef("pk"),
    )


register("ticket", _ticket_before_photos)
register("ticket_step", _ticket_steps)
register("toilet_step", _toilet_steps)
register("bulletin", _bulletins)
