"""One family of errors a user can act on, each with the HTTP status its page answers with.

Services raise them with a message written for the user, in his language; views catch
`ApplicationError`, show `error.message` and answer `error.status` (one rule for every page:
400 the request cannot be done as asked, 403 the user may not, 404 not there or not his, 409
someone else changed it meanwhile). Nothing in core knows a model.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError


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


class StorageFull(ApplicationError):
    """The server's disk (or database) is full: nothing was saved, the user's input is kept on
    the page he gets back (507 Insufficient Storage)."""

    status = 507


# errno values of a full file system or a full quota.
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
# PostgreSQL's disk_full (SQLSTATE 53100); SQLite says "database or disk is full" (SQLITE_FULL).
_PG_DISK_FULL = "53100"


def is_storage_full(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means the disk or the database is out of space."""
    for cause in _causes(error):
        if isinstance(cause, OSError) and cause.errno in _FULL_ERRNOS:
            return True
        if getattr(cause, "sqlstate", None) == _PG_DISK_FULL:
            return True
        if "database or disk is full" in str(cause):
            return True
    return False


def is_object_storage_down(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is object storage (S3, MEDIA_S3_BUCKET) failing a
    request: not answering, timing out, or answering with an error (503 SlowDown, a bucket
    gone, keys refused). Only boto3 raises these, so only the S3 storage."""
    return any(isinstance(cause, BotoCoreError | ClientError) for cause in _causes(error))


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    """`error` and what caused it, outermost first (each once: a chain may loop)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__
