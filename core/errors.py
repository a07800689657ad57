"""One family of errors a user can act on, each with the HTTP status its page answers with.

Services raise them with a message written for the user, in his language; views catch
`ApplicationError`, show `error.message` and answer `error.status` (one rule for every page:
400 the request cannot be done as asked, 403 the user may not, 404 not there or not his, 409
someone else changed it meanwhile). Nothing in core knows a model.
"""

from __future__ import annotations


class ApplicationError(Exception):
    """The request cannot be done as it stands; the message says why (400)."""

    status = 400

    def __init__(self, message: str):
        self.message = str(message)
        super().__init__(self.message)


class Forbidden(ApplicationError):
    """The user's role or jurisdiction does not allow it (403)."""

    status = 403


class NotFound(ApplicationError):
    """Not there, or outside the user's jurisdiction: the two answer alike (404)."""

    status = 404


class Conflict(ApplicationError):
    """Someone else changed the object meanwhile; reload and try again (409)."""

    status = 409
