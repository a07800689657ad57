"""Personal access tokens for other systems (villages.models.AccessToken): made and revoked by
whoever manages people, used by the API (/api/v1/) and Open311's `api_key`.

A token acts as its own account holding one role in one jurisdiction, given under the same rule
as a person's role (villages.access.may_grant: never above the giver's own, never outside his
jurisdiction) and audited the same way (MembershipChange, via "access tokens"). The account has
no usable password, so it never logs in on the pages. The secret — "rjt_" and 43 URL-safe
characters, 256 bits — is returned once; only its SHA-256 is kept (a slow hash buys nothing
against a random 256-bit secret and would cost every API call).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from core.errors import ApplicationError, NotFound
from villages import access
from villages.models import AccessToken, Membership, MembershipChange, Town, Village
from villages.people.selectors import memberships_shown, people_visible_to
from villages.people.services import (
    audit,
    membership_for,
    require_grant,
    require_manager,
    role_entry,
)

SECRET_PREFIX = "rjt_"
PREFIX_SHOWN = 12  # "rjt_" and 8 characters of the secret, in lists
NAME_MAX_LENGTH = 80
# How long a token may live; the page offers these (days), 90 by default.
LIFETIMES = (30, 90, 180, 365)
DEFAULT_LIFETIME = 90
# Updating last_used_at at most once a minute keeps a busy token from writing on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)

Via = MembershipChange.Via
Action = MembershipChange.Action


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(
    *,
    by,
    name: str,
    role: str,
    town: Town | None = None,
    village: Village | None = None,
    days: int = DEFAULT_LIFETIME,
    rate_per_minute: int | None = None,
) -> tuple[AccessToken, str]:
    """A new token acting as `role` in the given jurisdiction, living `days` days. Returns the
    token and its secret (shown once, never stored)."""
    require_manager(by)
    name = " ".join((name or "").split())
    if not name:
        raise ApplicationError(_("Give the token a name: the system that will use it."))
    if len(name) > NAME_MAX_LENGTH:
        raise ApplicationError(
            _("A token's name has at most %(max)d characters.") % {"max": NAME_MAX_LENGTH}
        )
    if days not in LIFETIMES:
        raise ApplicationError(_("Choose how long the token lives."))
    rate = rate_per_minute or settings.API_TOKEN_RATE_PER_MINUTE
    if not 1 <= rate <= settings.API_TOKEN_RATE_MAX:
        raise ApplicationError(
            _("Requests per minute: from 1 to %(max)d.") % {"max": settings.API_TOKEN_RATE_MAX}
        )
    county = access.county_code(by, "people.manage")
    membership = membership_for(role=role, town=town, village=village, county=county)
    require_grant(by, membership)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[:PREFIX_SHOWN]
    with transaction.atomic():
        user = get_user_model()(username=f"token-{prefix[len(SECRET_PREFIX) :]}", first_name=name)
        user.set_unusable_password()
        user.save()
        membership.user = user
        membership.save()
        token = AccessToken.objects.create(
            name=name,
            user=user,
            prefix=prefix,
            digest=digest_of(secret),
            created_by=by,
            expires_at=timezone.now() + timedelta(days=days),
            rate_per_minute=rate,
        )
        after = {"roles": [role_entry(membership)], "active": True}
        audit(user, by=by, action=Action.CREATED, before={}, after=after, via=Via.TOKEN)
    return token, secret


def token_revoke(*, by, token: AccessToken) -> AccessToken:
    """The token stops working at once (its account is deactivated); kept for the record."""
    require_manager(by)
    for membership in Membership.objects.filter(user_id=token.user_id).select_related("village"):
        require_grant(by, membership)
    with transaction.atomic():
        token = AccessToken.objects.select_for_update().select_related("user").get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.revoked_by = by
        token.save(update_fields=["revoked_at", "revoked_by"])
        token.user.is_active = False
        token.user.save(update_fields=["is_active"])
        audit(
            token.user,
            by=by,
            action=Action.DEACTIVATED,
            before={"active": True},
            after={"active": False},
            via=Via.TOKEN,
        )
    return token


def token_list(*, user):
    """The tokens whose account `user` may see (people.manage), newest first."""
    return (
        AccessToken.objects.filter(user__in=people_visible_to(user))
        .select_related("user", "created_by", "revoked_by")
        .prefetch_related(Prefetch("user__memberships", queryset=memberships_shown()))
    )


def token_or_404(*, user, pk) -> AccessToken:
    token = token_list(user=user).filter(pk=pk).first()
    if token is None:
        raise NotFound(_("Not found, or outside your jurisdiction."))
    return token


def token_authenticate(secret: str) -> AccessToken | None:
    """The live token with this secret (its account loaded), or None: unknown, revoked, expired,
    or its account deactivated. Notes when it was last used."""
    if not secret or not secret.startswith(SECRET_PREFIX) or len(secret) > 100:
        return None
    token = (
        AccessToken.objects.select_related("user")
        .filter(digest=digest_of(secret), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or token.expires_at <= now or not token.user.is_active:
        return None
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def is_live(token: AccessToken) -> bool:
    return token.revoked_at is None and token.expires_at > timezone.now()


class State(models.TextChoices):
    """What a token's row says (the tokens page): derived, never stored."""

    VALID = "valid", pgettext_lazy("token", "valid")
    EXPIRED = "expired", pgettext_lazy("token", "expired")
    REVOKED = "revoked", pgettext_lazy("token", "revoked")


def state_of(token: AccessToken, *, now=None) -> State:
    if token.revoked_at is not None:
        return State.REVOKED
    if token.expires_at <= (now or timezone.now()):
        return State.EXPIRED
    return State.VALID
