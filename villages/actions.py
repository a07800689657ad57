"""Actions as data: one table per stateful model says, for each action, which FSM transition it
runs and who may take it (a permission of `villages.access` in the object's jurisdiction, or the
person the object names, such as the worker a job is dispatched to).

The same table answers the page ("which buttons now?": `offered`) and the service ("may he?":
`require`, then `run` through the one state-change runner), so a page never offers what the
service would refuse. The FSM's source states and conditions are the "now" half of the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.utils.functional import Promise
from django_fsm import can_proceed

from core.errors import Forbidden
from core.transitions import transition_run
from villages import access


@dataclass(frozen=True)
class Action:
    name: str  # in URLs and event rows
    transition: str  # the model's FSM transition method
    label: Promise
    perm: str | None = None  # a villages.access permission, over the object's place
    holder: str | None = None  # or: the user whose id this attribute of the object holds
    primary: bool = False  # the step forward (a filled button)
    danger: bool = False  # cancelling, sending back: set apart
    not_allowed: Promise | None = None  # the refusal, where the table's does not fit
    # Separation of duties: the user whose id this attribute holds (who submitted, who asked)
    # may not take the action, whatever roles he holds (settings.SEPARATION_OF_DUTIES).
    not_by: str | None = None


@dataclass(frozen=True)
class Messages:
    """What the user is told, formatted with the object's `state` (its label) and `number`."""

    not_allowed: Promise  # his role or jurisdiction does not allow it
    not_now: Promise  # the object's state does not allow it now
    changed: Promise  # someone else changed it since it was read
    not_holder: Promise | None = None  # only the person the object names may
    own_request: Promise | None = None  # he asked; another person must decide (not_by)


class ActionTable:
    def __init__(
        self,
        *actions: Action,
        messages: Messages,
        place: Callable[[object], object | None] = lambda obj: obj,
        holder_perm: str | None = None,
    ):
        self.actions = {action.name: action for action in actions}
        self.messages = messages
        # What carries the jurisdiction (a ticket itself; an assessment's village; None for a
        # county-level object such as a round, whose permissions are county-wide).
        self.place = place
        # The permission the person an action's `holder` names acts through: he may act only
        # while he holds it where the object is (access.names; a worker moved away may not).
        self.holder_perm = holder_perm

    def __iter__(self) -> Iterator[str]:
        return iter(self.actions)

    def __contains__(self, name: str) -> bool:
        return name in self.actions

    def __getitem__(self, name: str) -> Action:
        return self.actions[name]

    def get(self, name: str) -> Action | None:
        return self.actions.get(name)

    def values(self):
        return self.actions.values()

    # --- who -----------------------------------------------------------------------------------

    def role_refusal(self, user, obj, action: Action) -> str | None:
        """Why `user` may never take `action` on `obj` (role, jurisdiction, not his job, his own
        request)."""
        refusal = self._role_refusal(user, obj, action)
        if refusal is None and self.own_request(user, obj, action):
            return self._say(self.messages.own_request or self.messages.not_allowed, obj)
        return refusal

    def _role_refusal(self, user, obj, action: Action) -> str | None:
        if action.holder and self._named(user, obj, action.holder):
            return None
        if action.perm and access.allows(user, action.perm, self.place(obj)):
            return None
        if action.perm or self.messages.not_holder is None:
            return self._say(action.not_allowed or self.messages.not_allowed, obj)
        return self._say(self.messages.not_holder, obj)

    def _named(self, user, obj, holder: str) -> bool:
        if self.holder_perm is None:
            return getattr(obj, holder) == getattr(user, "pk", None)
        place = self.place(obj)
        return access.names(user, obj, field=holder, perm=self.holder_perm, place=place)

    @staticmethod
    def own_request(user, obj, action: Action) -> bool:
        return bool(
            action.not_by
            and settings.SEPARATION_OF_DUTIES
            and getattr(obj, action.not_by) is not None
            and getattr(obj, action.not_by) == getattr(user, "pk", None)
        )

    def refusal(self, user, obj, name: str) -> str | None:
        """Why `user` may not take action `name` on `obj` now, or None."""
        action = self.actions[name]
        refusal = self.role_refusal(user, obj, action)
        if refusal is None and not can_proceed(getattr(obj, action.transition)):
            refusal = self._say(self.messages.not_now, obj)
        return refusal

    def offered(self, user, obj) -> list[Action]:
        """The actions the page shows: exactly those the service would let `user` take now."""
        return [a for a in self.actions.values() if self.refusal(user, obj, a.name) is None]

    def require(self, user, obj, name: str) -> Action:
        """The action, or Forbidden with the reason (the state is checked when it runs)."""
        action = self.actions[name]
        refusal = self.role_refusal(user, obj, action)
        if refusal is not None:
            raise Forbidden(refusal)
        return action

    # --- doing ---------------------------------------------------------------------------------

    def run(self, obj, name: str, *, args: dict | None = None, after=None):
        """Run the action's transition through the one runner (core.transitions)."""
        return self.run_transition(obj, self.actions[name].transition, args=args, after=after)

    def run_transition(self, obj, transition: str, *, args: dict | None = None, after=None):
        """Any transition of the model through the one runner, with the table's messages: also
        the consequences no user takes by hand (a rebound patrol moves its site)."""
        return transition_run(
            obj,
            transition,
            args=args,
            after=after,
            not_now=self._say(self.messages.not_now, obj),
            changed=self._say(self.messages.changed, obj),
        )

    @staticmethod
    def _say(message: Promise, obj) -> str:
        return str(message) % {
            "state": obj.get_state_display(),
            "number": getattr(obj, "number", ""),
        }
