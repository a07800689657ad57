"""Writes of the people pages: add a person, give and take roles, deactivate and reactivate, reset
a password. Each checks the actor (people.manage, the rank and jurisdiction of villages.access)
and writes its MembershipChange row in the same transaction as the change.

An account is never deleted: tickets, patrols and events keep their actor. A deactivated user
cannot log in (Django refuses inactive users, and his open sessions end at their next request).
A one-time password is returned to the caller, which shows it once; only its hash is stored,
and the person must choose his own at his next page (villages/people/middleware.py).
"""

from __future__ import annotations

import re
import secrets
import unicodedata

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.errors import ApplicationError, Conflict, Forbidden, NotFound
from villages import access
from villages.models import (
    City,
    County,
    Membership,
    MembershipChange,
    Person,
    Town,
    Village,
)
from villages.people import selectors

# No l, o, 0, 1: read off a screen and typed on a phone without doubt. 31 characters, 10 of them:
# ~50 bits, against a login that locks after 5 wrong tries.
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
PASSWORD_LENGTH = 10
NAME_MAX_LENGTH = 50
USERNAME_MAX_LENGTH = 150
# [0-9], not \d; NFKC has already made full-width digits ASCII.
MOBILE = re.compile(r"1[3-9][0-9]{9}")
PHONE_NOISE = re.compile(r"[\s\-—–()]")

Action = MembershipChange.Action
Via = MembershipChange.Via


# --- values ----------------------------------------------------------------------------------


def one_time_password(user) -> str:
    """A random password that passes AUTH_PASSWORD_VALIDATORS for `user` (saved or not)."""
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _i in range(PASSWORD_LENGTH))
        if password.isdigit() or password.isalpha():
            continue  # letters and digits both, whatever the validators say
        try:
            password_validation.validate_password(password, user)
        except ValidationError:
            continue
        return password


def normalise_mobile(value: str) -> str:
    """13812345678 from "138 1234 5678", "+86 138-1234-5678" or full-width digits; "" stays "".
    Raises ApplicationError for anything but an 11-digit mainland mobile number."""
    digits = PHONE_NOISE.sub("", unicodedata.normalize("NFKC", value or ""))
    if not digits:
        return ""
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not MOBILE.fullmatch(digits):
        raise ApplicationError(
            _("“%(phone)s” is not an 11-digit mobile number.") % {"phone": value.strip()[:20]}
        )
    return digits


def check_username(username: str) -> str:
    username = (username or "").strip()
    if not username:
        raise ApplicationError(_("Give a user name."))
    if len(username) > USERNAME_MAX_LENGTH:
        raise ApplicationError(
            _("A user name has at most %(max)d characters.") % {"max": USERNAME_MAX_LENGTH}
        )
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise ApplicationError(
            _("A user name has letters, digits and @ . + - _ only, no spaces.")
        ) from None
    return username


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ApplicationError(_("Give the person's name."))
    if len(name) > NAME_MAX_LENGTH:
        raise ApplicationError(
            _("A name has at most %(max)d characters.") % {"max": NAME_MAX_LENGTH}
        )
    return name


def username_taken(username: str, *, exclude=None) -> bool:
    """Taken whatever its case: "ZhangSan" beside "zhangsan" would be two people to the eye."""
    users = get_user_model().objects.filter(username__iexact=username)
    return users.exclude(pk=exclude.pk).exists() if exclude is not None else users.exists()


def phone_taken(phone: str, *, exclude=None) -> bool:
    people = Person.objects.filter(phone=phone)
    return people.exclude(user=exclude).exists() if exclude is not None else people.exists()


def membership_for(
    *,
    role: str,
    town: Town | None = None,
    village: Village | None = None,
    user=None,
    county: str | None = None,
) -> Membership:
    """An unsaved membership of `role` in the jurisdiction its role needs (villages.access
    MEMBERSHIP_JURISDICTION): a village given with its town means the village; a town alone,
    the town; neither, the county `county` (a code; by default the database's only county).
    Its county is always its town's. ApplicationError when it does not fit the role, or the
    town lies in another county than `county`."""
    try:
        role = access.Role(role)
    except ValueError:
        raise ApplicationError(_("Unknown role.")) from None
    if village is not None:
        if town is not None and village.town_id != town.pk:
            raise ApplicationError(
                _("%(village)s is not in %(town)s.") % {"village": village.name, "town": town.name}
            )
        if village.parent_id:
            raise ApplicationError(
                _("Roles are given for an administrative village (行政村), not a natural one.")
            )
        town = None
    if not access.jurisdiction_fits(role, town=town is not None, village=village is not None):
        raise ApplicationError(access.jurisdiction_hint(role))
    county = membership_county(county=county, place=village.town if village else town)
    return Membership(user=user, role=role, county_id=county, town=town, village=village)


def membership_county(*, county: str | None, place: Town | None) -> str:
    """The county a membership names: its town's; for a county-wide one `county`, or the only
    county in the database (ApplicationError when there are several and none was said)."""
    if place is not None:
        if county and county != place.county_id:
            raise ApplicationError(_("%(town)s is not in your county.") % {"town": place.name})
        return place.county_id
    if county:
        return county
    counties = list(County.objects.order_by("code").values_list("code", flat=True)[:2])
    if len(counties) != 1:
        raise ApplicationError(
            _("This database holds several counties (or none): say which county the role is for.")
        )
    return counties[0]


def role_entry(membership: Membership) -> dict:
    """A membership as the audit keeps it: role, codes, and the place's name at the time."""
    where = ""
    if membership.city_id:
        where = membership.city.name
    elif membership.village_id:
        village = membership.village
        where = f"{village.town.name} · {village.name}"
    elif membership.town_id:
        where = membership.town.name
    return {
        "role": membership.role,
        "town": membership.town_id,
        "village": membership.village_id,
        **({"city": membership.city_id} if membership.city_id else {}),
        "where": where,
    }


def roles_of(person) -> list[dict]:
    return [role_entry(m) for m in selectors.memberships_shown().filter(user=person)]


def audit(person, *, by, action: str, before: dict, after: dict, via: str = Via.PAGE) -> None:
    MembershipChange.objects.create(
        user=person, actor=by, action=action, before=before, after=after, via=via
    )


# --- checks ----------------------------------------------------------------------------------


def require_manager(by) -> None:
    if not access.allows(by, "people.manage"):
        raise Forbidden(_("Only the county task force may manage people and their roles."))


def _require_visible(by, person) -> None:
    if not selectors.people_visible_to(by).filter(pk=person.pk).exists():
        raise NotFound(_("Not found, or outside your jurisdiction."))


def require_manage(by, person, memberships: list[Membership] | None = None) -> None:
    """`by` may change `person`'s account: every role `person` holds (`memberships`, read when
    not given) is one `by` may give."""
    if memberships is None:
        memberships = list(
            # (`memberships` may be prefetched as memberships_shown(), which follows the city.)
            person.memberships.select_related("village").only(
                "id",
                "user",
                "role",
                "city",
                "town",
                "village__code",
                "village__town",
                "village__parent",
            )
        )
    if not access.may_manage(by, person, memberships):
        if person.is_superuser or person.is_staff:
            raise Forbidden(_("Only a system administrator may change an administrator's account."))
        raise Forbidden(
            _(
                "%(name)s holds a role above yours, or outside your jurisdiction: only someone "
                "of that rank may change this account."
            )
            % {"name": display_name(person)}
        )


def require_grant(by, membership: Membership) -> None:
    if not access.may_grant(by, membership):
        raise Forbidden(
            _(
                "You may not give or take away the role %(role)s there: it is above your own, or "
                "outside your jurisdiction."
            )
            % {"role": membership.get_role_display()}
        )


def require_not_last_manager_role(by, person, removed: list[Membership]) -> None:
    """Nobody takes away his own last membership through which he manages people: the county
    must not lock itself out of its people pages (a superuser manages without one)."""
    if person.pk != by.pk or by.is_superuser:
        return
    removed_ids = {m.pk for m in removed}
    managing = by.memberships.filter(access.holders("people.manage"))
    if (
        managing.filter(pk__in=removed_ids).exists()
        and not managing.exclude(pk__in=removed_ids).exists()
    ):
        raise Forbidden(
            _(
                "This is your last role through which you manage people; another member of the "
                "task force has to take it away."
            )
        )


def display_name(person) -> str:
    return person.get_full_name() or person.get_username()


def _locked(person):
    """The person's row, locked until the transaction ends: two changes of one person's roles
    run one after the other, each auditing the state the other left."""
    return get_user_model().objects.select_for_update().get(pk=person.pk)


# --- services --------------------------------------------------------------------------------


def person_create(
    *,
    by,
    name: str,
    username: str,
    phone: str = "",
    role: str,
    town: Town | None = None,
    village: Village | None = None,
):
    """A new active person with one role and a one-time password (returned, never stored in
    clear); he must choose his own password at his first page. Returns (user, password)."""
    require_manager(by)
    county = access.county_code(by, "people.manage")
    membership = membership_for(role=role, town=town, village=village, county=county)
    require_grant(by, membership)
    return _person_new(by=by, name=name, username=username, phone=phone, membership=membership)


def first_task_force_create(
    *, name: str, username: str, phone: str = "", county: str | None = None
):
    """The county's first task-force account, made at go-live (manage.py init_county) when
    nobody can manage the county's people yet: refused once anyone holds a task-force role
    there. `county` is a code (by default the database's only county). Returns (user, one-time
    password); the audit row names no actor (the command line)."""
    membership = membership_for(
        role=access.FIRST_ACCOUNT_ROLE, town=None, village=None, county=county
    )
    managers = Membership.objects.filter(
        access.holders("people.manage"), county_id=membership.county_id
    )
    if managers.exists():
        raise Conflict(
            _("The county already has a task-force account; it adds the others on /people/.")
        )
    return _person_new(by=None, name=name, username=username, phone=phone, membership=membership)


def first_city_supervisor_create(
    *, city: str, city_name: str = "", name: str, username: str, phone: str = ""
):
    """A city's first supervisor (市级督导), made on the command line (manage.py init_city):
    refused once anyone supervises the city, or while none of its counties is stored. The city's
    row is made with `city_name` when the division list's city row was not imported. Later
    supervisors are given by a superuser in the Django admin (audited there). Returns (user,
    one-time password); the audit row names no actor (the command line)."""
    if not (len(city) == 12 and city.isascii() and city.isdigit() and city.endswith("0" * 8)):
        raise ApplicationError(
            _("A city code has 12 digits: 4 of the city, then 8 zeros.") + f" ({city})"
        )
    counties = County.objects.filter(code__startswith=city[: access.CITY_DIGITS])
    if not counties.exists():
        raise ApplicationError(
            _("No county of the city %(code)s is stored: import the division list first.")
            % {"code": city}
        )
    row = _city_row(city, city_name)
    supervisors = Membership.objects.filter(role=access.Role.CITY_SUPERVISOR, city=row)
    if supervisors.exists():
        raise Conflict(
            _("%(city)s already has a city supervisor; others are given in the Django admin.")
            % {"city": row.name}
        )
    membership = Membership(role=access.Role.CITY_SUPERVISOR, city=row)
    return _person_new(by=None, name=name, username=username, phone=phone, membership=membership)


def _city_row(code: str, name: str) -> City:
    city = City.objects.filter(code=code).first()
    if city is not None:
        return city
    name = name.strip()
    if not name:
        raise ApplicationError(
            _(
                "The city %(code)s has no name yet: give it (--city-name) or import the "
                "division list's city row."
            )
            % {"code": code}
        )
    return City.objects.create(code=code, name=name[: City._meta.get_field("name").max_length])


def _person_new(*, by, name: str, username: str, phone: str, membership: Membership):
    name, username = check_name(name), check_username(username)
    phone = normalise_mobile(phone)
    if username_taken(username):
        raise ApplicationError(_("The user name %(name)s is taken.") % {"name": username})
    if phone and phone_taken(phone):
        raise ApplicationError(
            _("The mobile number %(phone)s is someone else's.") % {"phone": phone}
        )
    user = get_user_model()(username=username, first_name=name)
    password = one_time_password(user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            Person.objects.create(user=user, phone=phone, must_change_password=True)
            membership.user = user
            membership.save()
            audit(
                user,
                by=by,
                action=Action.CREATED,
                before={},
                after={"roles": [role_entry(membership)], "active": True},
            )
    except IntegrityError:  # the same name or number, added by someone else meanwhile
        raise Conflict(
            _("The user name or mobile number was just taken by someone else; check and retry.")
        ) from None
    return user, password


def membership_add(
    *, by, person, role: str, town: Town | None = None, village: Village | None = None
) -> Membership:
    require_manager(by)
    _require_visible(by, person)
    require_manage(by, person)
    county = access.county_code(by, "people.manage")
    membership = membership_for(role=role, town=town, village=village, user=person, county=county)
    require_grant(by, membership)
    with transaction.atomic():
        _locked(person)
        same = Membership.objects.filter(
            user=person,
            role=membership.role,
            county_id=membership.county_id,
            town=membership.town,
            village=membership.village,
        )
        if same.exists():
            raise ApplicationError(
                _("%(name)s already holds this role there.") % {"name": display_name(person)}
            )
        before = roles_of(person)
        membership.save()
        audit(
            person,
            by=by,
            action=Action.ROLE_ADDED,
            before={"roles": before},
            after={"roles": roles_of(person)},
        )
    return membership


def membership_remove(*, by, person, membership: Membership) -> None:
    require_manager(by)
    _require_visible(by, person)
    if membership.user_id != person.pk:
        raise NotFound(_("This role is not the person's."))
    require_manage(by, person)
    require_grant(by, membership)
    with transaction.atomic():
        _locked(person)
        require_not_last_manager_role(by, person, [membership])
        before = roles_of(person)
        deleted, _rows = Membership.objects.filter(pk=membership.pk).delete()
        if not deleted:
            raise Conflict(_("This role was already taken away; reload the page."))
        audit(
            person,
            by=by,
            action=Action.ROLE_REMOVED,
            before={"roles": before},
            after={"roles": roles_of(person)},
        )


def person_set_active(*, by, person, active: bool):
    """Deactivate (he can no longer log in; his open sessions end) or reactivate an account."""
    require_manager(by)
    _require_visible(by, person)
    if person.pk == by.pk:
        raise Forbidden(_("You cannot deactivate or reactivate your own account."))
    require_manage(by, person)
    with transaction.atomic():
        locked = _locked(person)
        if locked.is_active == active:
            raise Conflict(
                _("The account is already active.")
                if active
                else _("The account is already deactivated.")
            )
        locked.is_active = active
        locked.save(update_fields=["is_active"])
        audit(
            person,
            by=by,
            action=Action.REACTIVATED if active else Action.DEACTIVATED,
            before={"active": not active},
            after={"active": active},
        )
    person.is_active = active
    return person


def password_reset(*, by, person) -> str:
    """A new one-time password (returned once, stored hashed); the old one stops working, his
    open sessions end, and he must choose his own at his next login."""
    require_manager(by)
    _require_visible(by, person)
    if person.pk == by.pk:
        raise Forbidden(_("Change your own password with “Password” at the top of the page."))
    require_manage(by, person)
    password = one_time_password(person)
    with transaction.atomic():
        locked = _locked(person)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        Person.objects.update_or_create(user=locked, defaults={"must_change_password": True})
        audit(person, by=by, action=Action.PASSWORD_RESET, before={}, after={})
    return password


def password_changed(*, user) -> None:
    """The user chose his own password: no longer sent to the password page."""
    Person.objects.filter(user=user, must_change_password=True).update(must_change_password=False)
