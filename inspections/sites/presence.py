"""Proof of presence: was the inspector at the site when he recorded the patrol?

Evidence, in the order a county trusts it: the phone's GPS fix sent with the form (position and
its accuracy), the camera time and GPS the photos carry in EXIF, and that there are photos at
all. Each check in CHECKS looks at one of them and either passes, finds nothing to look at (not
applicable), or finds a `Doubt`; the county's PatrolPolicy says per kind whether a doubt refuses
the patrol or only flags it. A stored patrol keeps every check's result (Patrol.checks), so its
page says what was checked and passed, not only what was doubted.

None of this proves presence against a determined forger: GPS and EXIF are written by the phone
and a modified app writes whatever it likes. The checks catch the cheap forgeries — a photo used
twice, a computer's browser claiming a 1 m fix, the site's own coordinates pasted into the form,
a picture with no camera data — and the county's spot checks do the rest.

Everything here is pure: no database, no clock of its own. What needs the database (which photos
are already evidence elsewhere) or the request (the browser's User-Agent) the service gathers
and passes in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from inspections.models import PatrolPolicy, Presence, Rule, WaterSite
from inspections.sites.models import CheckResult
from villages.geo import distance_m
from workflows.models import EvidencePhoto

# A camera clock may run a little ahead of the server's; a photo "from the future" by more than
# this is still not counted as old, but neither is it fresh evidence — it is simply ignored.
CLOCK_SKEW = timedelta(minutes=30)

# A phone's GNSS reports 3–20 m outdoors at best; a fix claiming better than this from a
# computer (which has no GNSS, only Wi-Fi positioning of tens of metres or more) was typed in.
PLAUSIBLE_ACCURACY_M = 3

# Browsers of phones and tablets say so in their User-Agent; everything else (Windows, macOS,
# Linux desktops, scripts, an empty header) counts as a computer. iPadOS Safari sends a Mac's
# User-Agent by default: an iPad claiming a sub-3 m fix is flagged, which a flag (not a refusal)
# by default allows for.
MOBILE_BROWSER = re.compile(
    r"Mobi|Android|iPhone|iPad|iPod|HarmonyOS|OpenHarmony|Windows Phone|Tablet|KAIOS",
    re.IGNORECASE,
)

# Coordinates equal to the site's to this many decimals (1e-6° ≈ 0.1 m) were copied, not measured.
SAME_POSITION_DECIMALS = 6


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


@dataclass(frozen=True)
class Check:
    """One check run on a patrol: its Presence code, its CheckResult and what it measured."""

    code: str
    result: str
    params: dict = field(default_factory=dict)

    def as_record(self) -> dict:
        return {"code": self.code, "result": self.result, **self.params}


@dataclass(frozen=True)
class Findings:
    checks: list[Check]
    doubts: list[Doubt]

    @property
    def refusals(self) -> list[Doubt]:
        return [d for d in self.doubts if d.refuses]


@dataclass(frozen=True)
class _Inputs:
    site: WaterSite
    policy: PatrolPolicy
    position: Position | None
    photos: Sequence[EvidencePhoto]
    now: datetime  # when the patrol was observed: the photos' age is judged against it
    user_agent: str | None
    reused: frozenset[str]
    received: datetime  # when it reached the server (later for a patrol queued offline)


# What one check returns: None when there is nothing to check, else (measured values, doubts).
Verdict = tuple[dict, list[Doubt]] | None


def distance_to(site: WaterSite, lat: float, lng: float) -> float:
    return float(distance_m(site.lng, site.lat, lng, lat))


def is_mobile_browser(user_agent: str) -> bool:
    return bool(MOBILE_BROWSER.search(user_agent))


def assess(
    *,
    site: WaterSite,
    policy: PatrolPolicy,
    position: Position | None,
    photos: Sequence[EvidencePhoto],
    now: datetime,
    user_agent: str | None = None,
    reused: frozenset[str] = frozenset(),
    received: datetime | None = None,
) -> Findings:
    """Run every check. `now`: when the patrol was observed (the phone's GPS fix); `received`:
    when it reached the server (default: `now`) — a patrol recorded offline at 10:05 and sent
    at 17:00 is judged at 10:05, and flagged only if it waited longer than the policy allows.
    `user_agent`: the browser's header (None: not sent through a browser, the computer check
    does not apply); `reused`: SHA-256 of the photos that are already evidence of another
    patrol, a ticket or an assessment (the service looks them up)."""
    inputs = _Inputs(
        site, policy, position, photos, now, user_agent, frozenset(reused), received or now
    )
    checks, doubts = [], []
    for code, run in CHECKS:
        verdict = run(inputs)
        checks.append(_check(code, verdict))
        if verdict is not None:
            doubts.extend(verdict[1])
    return Findings(checks, doubts)


def _check(code: str, verdict: Verdict) -> Check:
    if verdict is None:
        return Check(code, CheckResult.NOT_APPLICABLE)
    params, found = verdict
    if not found:
        result = CheckResult.PASSED
    elif any(d.refuses for d in found):
        result = CheckResult.REFUSED
    else:
        result = CheckResult.FLAGGED
    return Check(code, result, params)


# --- the position -----------------------------------------------------------------------------


def _no_position(i: _Inputs) -> Verdict:
    if i.position is None:
        return {}, [Doubt(Presence.NO_POSITION, i.policy.no_position)]
    return {}, []


def _imprecise(i: _Inputs) -> Verdict:
    if i.position is None or i.position.accuracy_m is None:
        return None
    params = {"accuracy_m": round(i.position.accuracy_m), "limit_m": i.policy.max_accuracy_m}
    if i.position.accuracy_m > i.policy.max_accuracy_m:
        return params, [Doubt(Presence.IMPRECISE, i.policy.no_position, params)]
    return params, []


def _too_far(i: _Inputs) -> Verdict:
    position = i.position
    if position is None or (position.accuracy_m or 0) > i.policy.max_accuracy_m:
        return None  # a position less precise than the limit counts as none
    distance = distance_to(i.site, position.lat, position.lng)
    params = {
        "distance_m": round(distance),
        "limit_m": i.policy.max_distance_m,
        "accuracy_m": round(position.accuracy_m or 0),
    }
    if _beyond(distance, position.accuracy_m, i.policy.max_distance_m):
        return params, [Doubt(Presence.TOO_FAR, i.policy.too_far, params)]
    return params, []


def _beyond(distance: float, accuracy: float | None, limit: float) -> bool:
    """A fix is a circle: an inspector standing at the limit with a 30 m fix may be reported up
    to 30 m further out. The circle counts up to the limit itself, so a vague fix cannot stretch
    the allowed distance without bound (and worse ones were already refused as imprecise)."""
    return distance > limit + min(accuracy or 0, limit)


def _desktop_fix(i: _Inputs) -> Verdict:
    """A browser on a computer has no GNSS: a sub-3 m fix from one was typed into the form (or
    the developer tools), not measured."""
    if i.position is None or i.position.accuracy_m is None or i.user_agent is None:
        return None
    mobile = is_mobile_browser(i.user_agent)
    params = {
        "accuracy_m": _tenths(i.position.accuracy_m),
        "limit_m": PLAUSIBLE_ACCURACY_M,
        "device": "mobile" if mobile else "computer",
    }
    if not mobile and i.position.accuracy_m < PLAUSIBLE_ACCURACY_M:
        return params, [Doubt(Presence.DESKTOP_FIX, i.policy.desktop_fix, params)]
    return params, []


def _tenths(metres: float) -> float | int:
    value = round(metres, 1)
    return int(value) if value == int(value) else value


def _copied_position(i: _Inputs) -> Verdict:
    if i.position is None:
        return None
    same = _same_point(i.position.lat, i.site.lat) and _same_point(i.position.lng, i.site.lng)
    if same:
        return {}, [Doubt(Presence.COPIED_POSITION, i.policy.copied_position)]
    return {}, []


def _same_point(a: float, b: float) -> bool:
    return round(a, SAME_POSITION_DECIMALS) == round(b, SAME_POSITION_DECIMALS)


def _late_upload(i: _Inputs) -> Verdict:
    """Recorded on the phone without network and sent later: fine for hours, a weekend at
    most by default; a record that waited longer is worth a look (a phone's clock is set by
    its owner, so an observation time far back is as much a claim as a typed position)."""
    waited = i.received - i.now
    if waited <= CLOCK_SKEW:
        return None  # sent at once
    params = {
        "hours": round(waited.total_seconds() / 3600, 1),
        "limit_h": i.policy.max_offline_hours,
    }
    if waited > timedelta(hours=i.policy.max_offline_hours):
        return params, [Doubt(Presence.LATE_UPLOAD, i.policy.late_upload, params)]
    return params, []


# --- the photos -------------------------------------------------------------------------------


def _no_photo(i: _Inputs) -> Verdict:
    if not i.photos:
        return {"photos": 0}, [Doubt(Presence.NO_PHOTO, i.policy.no_photo)]
    return {"photos": len(i.photos)}, []


def _no_exif(i: _Inputs) -> Verdict:
    """Neither a camera time nor a GPS position: a screenshot, a picture saved from a chat or
    the web, or an editor that dropped the EXIF. (Some phones' browsers strip the GPS from an
    upload, never the time as well, so an honest camera photo keeps one of them.)"""
    if not i.photos:
        return None
    found = [
        Doubt(Presence.NO_EXIF, i.policy.no_exif, {"photo": photo.original_name})
        for photo in i.photos
        if photo.taken_at is None and not photo.has_location
    ]
    return {"photos": len(i.photos)}, found


def _old_photo(i: _Inputs) -> Verdict:
    dated = [p for p in i.photos if p.taken_at is not None and p.taken_at < i.now + CLOCK_SKEW]
    if not dated:
        return None
    oldest = timedelta(hours=i.policy.photo_max_age_hours)
    found = []
    for photo in dated:
        age = i.now - photo.taken_at
        if age > oldest:
            params = {
                "photo": photo.original_name,
                "hours": round(age.total_seconds() / 3600, 1),
                "limit_h": i.policy.photo_max_age_hours,
                "taken": timezone.localtime(photo.taken_at).strftime("%Y-%m-%d %H:%M"),
            }
            found.append(Doubt(Presence.OLD_PHOTO, i.policy.old_photo, params))
    return {"photos": len(dated), "limit_h": i.policy.photo_max_age_hours}, found


def _photo_far(i: _Inputs) -> Verdict:
    placed = [p for p in i.photos if p.has_location]
    if not placed:
        return None
    found = []
    for photo in placed:
        distance = distance_to(i.site, photo.gps_lat, photo.gps_lng)
        if _beyond(distance, photo.gps_accuracy_m, i.policy.max_distance_m):
            params = {"photo": photo.original_name, "distance_m": round(distance)}
            found.append(Doubt(Presence.PHOTO_FAR, i.policy.too_far, params))
    return {"photos": len(placed), "limit_m": i.policy.max_distance_m}, found


def _photo_reused(i: _Inputs) -> Verdict:
    if not i.photos:
        return None
    found = [
        Doubt(Presence.PHOTO_REUSED, i.policy.photo_reused, {"photo": photo.original_name})
        for photo in i.photos
        if photo.sha256 in i.reused
    ]
    return {"photos": len(i.photos)}, found


# Every check, in the order a patrol's page lists them: first the position, then the photos.
CHECKS: tuple[tuple[str, Callable[[_Inputs], Verdict]], ...] = (
    (Presence.NO_POSITION, _no_position),
    (Presence.IMPRECISE, _imprecise),
    (Presence.TOO_FAR, _too_far),
    (Presence.DESKTOP_FIX, _desktop_fix),
    (Presence.COPIED_POSITION, _copied_position),
    (Presence.LATE_UPLOAD, _late_upload),
    (Presence.NO_PHOTO, _no_photo),
    (Presence.NO_EXIF, _no_exif),
    (Presence.OLD_PHOTO, _old_photo),
    (Presence.PHOTO_FAR, _photo_far),
    (Presence.PHOTO_REUSED, _photo_reused),
)


# --- words --------------------------------------------------------------------------------------


def format_distance(metres: float) -> str:
    if metres >= 1000:
        return _("%(km).1f km") % {"km": metres / 1000}
    return _("%(m)d m") % {"m": round(metres)}


def format_age(hours: float) -> str:
    """How long ago, in the unit a person would say: "5.5 hours ago", "about 3 days ago",
    "about 15 years ago" — never "139320.5 hours ago"."""
    if hours < 48:
        return _("%(hours)s hours ago") % {"hours": round(hours, 1)}
    days = hours / 24
    if days < 60:
        n = round(days)
        return ngettext("about %(n)d day ago", "about %(n)d days ago", n) % {"n": n}
    if days < 730:
        n = round(days / 30.44)
        return ngettext("about %(n)d month ago", "about %(n)d months ago", n) % {"n": n}
    n = round(days / 365.25)
    return ngettext("about %(n)d year ago", "about %(n)d years ago", n) % {"n": n}


def doubt_label(flag: dict) -> str:
    """The kind of doubt of a stored flag, in a few words ("photo taken too long ago")."""
    try:
        return str(Presence(flag.get("code")).label)
    except ValueError:
        return str(flag.get("code"))


def message(flag: dict) -> str:
    """What the inspector (and later the task force) reads about one stored flag."""
    code = flag.get("code")
    values = dict(flag)
    if "distance_m" in values:
        values["distance"] = format_distance(values["distance_m"])
    if code == Presence.OLD_PHOTO and "hours" in values:
        values["age"] = format_age(values["hours"])
        if values.get("taken"):
            return (
                _("Photo %(photo)s was taken on %(taken)s, %(age)s (limit %(limit_h)s hours).")
                % values
            )
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
        Presence.OLD_PHOTO: _("Photo %(photo)s was taken %(age)s (limit %(limit_h)s hours)."),
        Presence.PHOTO_FAR: _("Photo %(photo)s was taken %(distance)s from the site."),
        Presence.NO_PHOTO: _("No photo was attached."),
        Presence.NO_EXIF: _(
            "Photo %(photo)s carries no camera data (no time, no GPS): it may be a screenshot "
            "or a picture from elsewhere."
        ),
        Presence.PHOTO_REUSED: _(
            "Photo %(photo)s is already evidence of another patrol, a ticket or an "
            "assessment: take a new photo at the site."
        ),
        Presence.DESKTOP_FIX: _(
            "The position claims a GPS accuracy of %(accuracy_m)s m but was sent from a "
            "computer's browser, which has no such GPS."
        ),
        Presence.COPIED_POSITION: _(
            "The position sent is exactly the site's registered coordinates: a real GPS fix "
            "does not match them to 0.1 m."
        ),
        Presence.LATE_UPLOAD: _(
            "Recorded on the phone and sent %(hours)s hours later (limit %(limit_h)s hours)."
        ),
    }
    template = templates.get(code)
    if template is None:
        return str(code)
    try:
        return template % values
    except (KeyError, TypeError, ValueError):
        return str(Presence(code).label)


# What each check looks at, as its line on the patrol's page.
CHECK_LABELS = {
    Presence.NO_POSITION: gettext_lazy("GPS position sent"),
    Presence.IMPRECISE: gettext_lazy("GPS position precise enough"),
    Presence.TOO_FAR: gettext_lazy("Recorded near the site"),
    Presence.DESKTOP_FIX: gettext_lazy("GPS accuracy plausible for the device"),
    Presence.COPIED_POSITION: gettext_lazy("Position not copied from the site's coordinates"),
    Presence.LATE_UPLOAD: gettext_lazy("Sent soon after it was recorded"),
    Presence.NO_PHOTO: gettext_lazy("Photos attached"),
    Presence.NO_EXIF: gettext_lazy("Photos carry camera data (EXIF)"),
    Presence.OLD_PHOTO: gettext_lazy("Photos taken recently"),
    Presence.PHOTO_FAR: gettext_lazy("Photos taken near the site"),
    Presence.PHOTO_REUSED: gettext_lazy("Photos not used as evidence before"),
}


@dataclass(frozen=True)
class CheckLine:
    """One check as the patrol's page shows it."""

    code: str
    label: str
    result: str
    result_label: str
    detail: str
    reasons: list[str]


def check_lines(checks: Sequence[dict], flags: Sequence[dict]) -> list[CheckLine]:
    """The stored checks of a patrol (Patrol.checks) in words, each with the messages of its
    flags. Empty for a patrol recorded before the checks were stored."""
    lines = []
    for record in checks:
        code = record.get("code", "")
        result = record.get("result", "")
        try:
            result_label = str(CheckResult(result).label)
        except ValueError:
            result_label = result
        lines.append(
            CheckLine(
                code=code,
                label=str(CHECK_LABELS.get(code, code)),
                result=result,
                result_label=result_label,
                detail=_detail(record),
                reasons=[message(flag) for flag in flags if flag.get("code") == code],
            )
        )
    return lines


def _detail(record: dict) -> str:
    """The measured value worth showing beside a check, or ""."""
    code, values = record.get("code"), record
    try:
        if code == Presence.TOO_FAR:
            return _("%(distance)s from the site (limit %(limit_m)s m)") % {
                "distance": format_distance(values["distance_m"]),
                "limit_m": values["limit_m"],
            }
        if code == Presence.IMPRECISE:
            return _("± %(accuracy_m)s m") % values
        if code == Presence.DESKTOP_FIX:
            if values["device"] == "mobile":
                return _("sent from a phone or tablet")
            return _("sent from a computer")
        if code == Presence.LATE_UPLOAD:
            return _("sent %(hours)s hours after it was recorded") % values
        if code == Presence.NO_PHOTO:
            count = values["photos"]
            return ngettext("%(n)d photo", "%(n)d photos", count) % {"n": count}
    except (KeyError, TypeError, ValueError):
        return ""
    return ""
