"""The one state-change runner: every FSM transition of every model goes through `transition_run`.

The model's transition method (django-fsm) only changes fields on the object; this runner makes
it a unit of work: the source state must allow it (else the user is told what state it is in
now), then the transition, the save and whatever must happen with it (an event row, a signal to
a downstream app) run in one transaction. A copy read before someone else's change fails its
compare-and-set save (`ConcurrentTransitionMixin`: UPDATE … WHERE state = <read state>) and the
user is told to reload: one of two people acting at once wins, the other loses nothing typed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django_fsm import ConcurrentTransition, can_proceed

from core.errors import ApplicationError, Conflict


def transition_run(
    obj,
    transition: str,
    *,
    not_now: str,
    changed: str,
    args: dict | None = None,
    after: Callable[[str], object] | None = None,
):
    """Run `obj.<transition>(**args)`, save, then `after(source_state)`; all or nothing.

    `not_now`: the message when the current state does not allow the transition; `changed`: the
    message when someone else changed the object since it was read."""
    method = getattr(obj, transition)
    if not can_proceed(method):
        raise ApplicationError(not_now)
    source = obj.state
    try:
        with transaction.atomic():
            method(**(args or {}))
            obj.save()
            if after is not None:
                after(source)
    except ConcurrentTransition:
        raise Conflict(changed) from None
    return obj
