"""Proof of presence: was the inspector at the site when he recorded the patrol?

Evidence, in the order a county trusts it: the phone's GPS fix sent with the form (position and
its accuracy), the camera time and GPS the photos carry in EXIF, and that there are photos at
all. Each doubt found is a `Doubt`; the county's PatrolPolicy says per kind whether it refuses
the patrol or only flags it. Everything here is pure: no database, no clock of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from inspections.models import PatrolPolicy, Presence, Rule, WaterSite
from villages.geo import distance_m
from workflows.models import EvidencePhoto

# A camera clock may run a little ahead of the server's; a photo "from the future" by more than
# this is still not counted as old, but neither is it fresh evidence — it is simply ignored.
CLOCK_SKEW = timedelta(minutes=30)


@dataclass(frozen=True)
class Position:
    lat: float
    lng: float
    accuracy_m: float | None = None


@dataclass(frozen=True)
class Doubt:
    code: str  # a Presence value
    rule: str  # Rule.REFUSE or Rule.FLAG
    params: dict = field(default_factory=dict)

    @property
    def refuses(self) -> bool:
        return self.rule == Rule.REFUSE

    def as_flag(self) -> dict:
        return {"code": self.code, **self.params}


def distance_to(site: WaterSite, lat: float, lng: float) -> float:
    return float(distance_m(site.lng, site.lat, lng, lat))


def doubts(
    *,
    site: WaterSite,
    policy: PatrolPolicy,
    position: Position | None,
    photos: Sequence[EvidencePhoto],
    now: datetime,
) -> list[Doubt]:
    return [
        *_position_doubts(site, policy, position),
        *_photo_doubts(site, policy, photos, now),
    ]


def _position_doubts(site, policy, position: Position | None) -> list[Doubt]:
    if position is None:
        return [Doubt(Presence.NO_POSITION, policy.no_position)]
    accuracy = position.accuracy_m
    if accuracy is not None and accuracy > policy.max_accuracy_m:
        params = {"accuracy_m": round(accuracy), "limit_m": policy.max_accuracy_m}
        return [Doubt(Presence.IMPRECISE, policy.no_position, params)]
    distance = distance_to(site, position.lat, position.lng)
    if _beyond(distance, accuracy, policy.max_distance_m):
        params = {
            "distance_m": round(distance),
            "limit_m": policy.max_distance_m,
            "accuracy_m": round(accuracy or 0),
        }
        return [Doubt(Presence.TOO_FAR, policy.too_far, params)]
    return []


def _beyond(distance: float, accuracy: float | None, limit: float) -> bool:
    """A fix is a circle: an inspector standing at the limit with a 30 m fix may be reported up
    to 30 m further out. The circle counts up to the limit itself, so a vague fix cannot stretch
    the allowed distance without bound (and worse ones were already refused as imprecise)."""
    return distance > limit + min(accuracy or 0, limit)


def _photo_doubts(site, policy, photos: Sequence[EvidencePhoto], now: datetime) -> list[Doubt]:
    if not photos:
        return [Doubt(Presence.NO_PHOTO, policy.no_photo)]
    found = []
    oldest = timedelta(hours=policy.photo_max_age_hours)
    for photo in photos:
        if photo.taken_at is not None and photo.taken_at < now + CLOCK_SKEW:
            age = now - photo.taken_at
            if age > oldest:
                params = {
                    "photo": photo.original_name,
                    "hours": round(age.total_seconds() / 3600, 1),
                    "limit_h": policy.photo_max_age_hours,
                }
                found.append(Doubt(Presence.OLD_PHOTO, policy.old_photo, params))
        if photo.has_location:
            distance = distance_to(site, photo.gps_lat, photo.gps_lng)
            if _beyond(distance, photo.gps_accuracy_m, policy.max_distance_m):
                params = {"photo": photo.original_name, "distance_m": round(distance)}
                found.append(Doubt(Presence.PHOTO_FAR, policy.too_far, params))
    return found


def format_distance(metres: float) -> str:
    if metres >= 1000:
        return _("%(km).1f km") % {"km": metres / 1000}
    return _("%(m)d m") % {"m": round(metres)}


def message(flag: dict) -> str:
    """What the inspector (and later the task force) reads about one stored flag."""
    code = flag.get("code")
    values = dict(flag)
    if "distance_m" in values:
        values["distance"] = format_distance(values["distance_m"])
    templates = {
        Presence.TOO_FAR: _(
            "Recorded %(distance)s from the site (limit %(limit_m)s m, GPS accuracy "
            "%(accuracy_m)s m)."
        ),
        Presence.NO_POSITION: _("The phone sent no GPS position."),
        Presence.IMPRECISE: _(
            "The GPS position was only accurate to %(accuracy_m)s m; positions less precise "
            "than %(limit_m)s m do not count."
        ),
        Presence.OLD_PHOTO: _(
            "Photo %(photo)s was taken %(hours)s hours ago (limit %(limit_h)s hours)."
        ),
        Presence.PHOTO_FAR: _("Photo %(photo)s was taken %(distance)s from the site."),
        Presence.NO_PHOTO: _("No photo was attached."),
    }
    template = templates.get(code)
    if template is None:
        return str(code)
    try:
        return template % values
    except (KeyError, TypeError, ValueError):
        return str(Presence(code).label)
