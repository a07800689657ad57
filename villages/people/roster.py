"""Import of the staff roster (花名册) the task force keeps in Excel: who works in the county, in
which role and where.

Columns: 姓名 (name), 手机号 (phone), 用户名 (username), 角色 (role: 县专班, 巡查员, 乡镇专干,
管护员, 村管员 or the role's value), 乡镇代码 (town_code, 12 digits), 村代码 (village_code);
the English names are accepted too. A person is found by his user name or his mobile number
(either may be blank, not both); a person with several roles has a row for each.

For each person the file names, its rows are his roles: a role the file adds is given, a role he
holds but the file no longer lists is taken away (each change audited, "roles changed" with the
before and after). His name and, when the file gives one, his mobile number follow the file;
his active state does not (deactivating is done on his page). People the file does not name are
left as they are. New people get a one-time password, returned once in the summary and never
stored in clear; they must choose their own at their first login.

Every row is checked first (the same rank and jurisdiction rules as the people pages, for the
importing user); any bad row stops the import naming its line, and nothing is half-written. A
second run of the same file changes nothing and says so. Reading the file is core.tables'.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.errors import ApplicationError
from core.tables import (
    LABEL_NOISE,
    Problems,
    RowError,
    Table,
    TableImportError,
    TableLayout,
    cell_plain,
    cell_text,
    find_header,
    label_choice,
    parse_rows,
    read_table,
)
from villages import access
from villages.models import Membership, MembershipChange, Person, Town, Village, mask_phone
from villages.people import selectors, services

COLUMN_ALIASES = {
    "name": ("姓名", "名字"),
    "phone": ("手机号", "手机号码", "手机", "联系电话"),
    "username": ("用户名", "账号", "登录名"),
    "role": ("角色", "岗位"),
    "town_code": ("乡镇代码", "乡镇编码", "乡镇区划代码"),
    "village_code": ("村代码", "村编码", "村区划代码"),
}
REQUIRED_COLUMNS = ("name", "role")
# Digits Excel may have turned into 1.38E+10: reported once, not as a bad number per line.
CODE_COLUMNS = ("phone", "town_code", "village_code")
CODE = re.compile(r"[0-9]{12}")

Action = MembershipChange.Action


class StaffImportError(TableImportError):
    """Rows of a staff roster that cannot be imported."""


ROSTER = TableLayout(COLUMN_ALIASES, REQUIRED_COLUMNS, StaffImportError)


@dataclass
class StaffRow:
    line: int
    name: str
    phone: str
    username: str
    role: str
    town_code: str
    village_code: str
    membership: Membership | None = None  # set once its town or village is found


@dataclass
class StaffPerson:
    """The rows of one person, and what the import does to him."""

    line: int  # his first row's, where his errors are reported
    name: str
    phone: str
    username: str
    rows: list[StaffRow] = field(default_factory=list)
    user: Any = None  # the stored user, if he has one


@dataclass
class StaffImportSummary:
    created: int = 0
    roles_changed: int = 0
    details_changed: int = 0
    unchanged: int = 0
    # (name, user name, one-time password) of each person created: shown once, then gone.
    passwords: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.roles_changed or self.details_changed)


# --- reading ---------------------------------------------------------------------------------


def staff_import(
    *, path: Path, by=None, progress=None, max_new: int | None = None
) -> StaffImportSummary:
    """Imports the roster at `path` as `by` (None: the command line, which answers to whoever
    runs the server). Raises StaffImportError, with nothing written, if any row is bad, or if it
    would create more than `max_new` people (each password hash takes a third of a second)."""
    if by is not None:
        services.require_manager(by)
    problems = Problems(error=StaffImportError)
    rows = parse_roster(read_table(path, error=StaffImportError), problems)
    county = access.county_code(by, "people.manage") if by is not None else None
    resolve_places(rows, problems, county=county)
    people = group_people(rows, problems)
    problems.raise_if_any()
    match_people(people, problems)
    problems.raise_if_any()
    if by is not None:
        check_rights(people, by, problems)
        problems.raise_if_any()
    new = [p for p in people if p.user is None]
    if max_new is not None and len(new) > max_new:
        raise StaffImportError(
            [
                _(
                    "The file would add %(count)d people; this page adds at most %(max)d at a "
                    "time. Split the file, or run manage.py import_staff on the server."
                )
                % {"count": len(new), "max": max_new}
            ]
        )
    if progress is not None:
        progress.total = len(people)
        progress.refresh()
    summary = _write(people, by)
    if progress is not None:
        progress.update(len(people))
    return summary


def parse_roster(table: Table, problems: Problems) -> list[StaffRow]:
    header_line, columns = find_header(table, ROSTER)
    names = set(columns.values())
    if not names & {"username", "phone"}:
        raise StaffImportError(
            [
                _("Line %(line)d: a column 用户名 or 手机号 is needed to find each person.")
                % {"line": header_line}
            ]
        )
    rows = parse_rows(table, header_line, columns, problems, _parse_row, codes=CODE_COLUMNS)
    if not rows and not problems.items:
        raise StaffImportError(
            [_("Line %(line)d: no people below the header.") % {"line": header_line}]
        )
    return rows


def _parse_row(line: int, cells: dict[str, Any]) -> StaffRow:
    try:
        name = services.check_name(cell_text(cells.get("name")))
        phone = services.normalise_mobile(cell_plain(cells.get("phone")))
        username = cell_text(cells.get("username"))
        username = services.check_username(username) if username else ""
    except ApplicationError as error:
        raise RowError(error.message) from None
    if not username and not phone:
        raise RowError(_("neither a user name nor a mobile number."))
    row = StaffRow(
        line=line,
        name=name,
        phone=phone,
        username=username,
        role=_role(cells.get("role")),
        town_code=_code(cells.get("town_code"), _("town code")),
        village_code=_code(cells.get("village_code"), _("village code")),
    )
    town, village = bool(row.town_code) and not row.village_code, bool(row.village_code)
    if not access.jurisdiction_fits(row.role, town=town, village=village):
        raise RowError(access.jurisdiction_hint(row.role))
    return row


@cache
def _role_parser():
    labels = {}
    for role in access.Role:
        names = {role.value}
        for code in ("zh-hans", "en"):
            with translation.override(code):
                label = str(role.label)
            # "town officer (乡镇专干)": the whole label, the name before the bracket, the one in it
            names |= {label, re.sub(r"\s*\(.*\)$", "", label), *re.findall(r"\((.*)\)", label)}
        labels |= {_label_key(name): role.value for name in names}
    return label_choice(
        labels,
        gettext_noop("unknown role “%(value)s” (县专班, 巡查员, 乡镇专干, 管护员 or 村管员)."),
    )


def _label_key(text: str) -> str:
    # The key core.tables.label_choice looks a cell up by.
    return LABEL_NOISE.sub("", unicodedata.normalize("NFKC", text)).lower()


def _role(cell: Any) -> str:
    if not cell_text(cell):
        raise RowError(_("the role is empty."))
    return _role_parser()(cell)


def _code(cell: Any, column: str) -> str:
    code = cell_plain(cell)
    if code and not CODE.fullmatch(code):
        raise RowError(
            _("malformed %(column)s “%(code)s” (12 digits expected).")
            % {"column": column, "code": code}
        )
    return code


# --- places and people -----------------------------------------------------------------------


def resolve_places(rows: list[StaffRow], problems: Problems, *, county: str | None = None) -> None:
    """Each row's membership, its town and village found: two queries however long the file.
    A county-wide row's county is `county` (the importer's), or the database's only one."""
    towns = Town.objects.filter(code__in={r.town_code for r in rows if r.town_code}).only(
        "code", "name", "county_id"
    )
    by_town = {t.code: t for t in towns}
    villages = (
        Village.objects.filter(code__in={r.village_code for r in rows if r.village_code})
        .select_related("town")
        .only("code", "name", "parent", "town__name", "town__county_id")
    )
    by_village = {v.code: v for v in villages}
    for row in rows:
        try:
            town = by_town.get(row.town_code) if row.town_code else None
            if row.town_code and town is None:
                raise ApplicationError(_("unknown town code %(code)s.") % {"code": row.town_code})
            village = by_village.get(row.village_code) if row.village_code else None
            if row.village_code and village is None:
                raise ApplicationError(
                    _("unknown village code %(code)s.") % {"code": row.village_code}
                )
            row.membership = services.membership_for(
                role=row.role, town=town, village=village, county=county
            )
        except ApplicationError as error:
            problems.add(row.line, error.message)


def group_people(rows: list[StaffRow], problems: Problems) -> list[StaffPerson]:
    """Rows of one person (same user name; or, without one, the same mobile number) together.
    Rows that disagree about a person, or repeat one of his roles, are reported."""
    by_phone: dict[str, StaffPerson] = {}
    by_username: dict[str, StaffPerson] = {}
    people: list[StaffPerson] = []
    for row in rows:
        person = by_username.get(row.username.lower()) if row.username else None
        phone_owner = by_phone.get(row.phone) if row.phone else None
        if person is None:
            person = phone_owner
        elif phone_owner is not None and phone_owner is not person:
            problems.add(
                row.line,
                _("the mobile number %(phone)s is given on line %(line)d to another person.")
                % {"phone": row.phone, "line": phone_owner.line},
            )
            continue
        if person is None:
            person = StaffPerson(line=row.line, name=row.name, phone="", username="")
            people.append(person)
        if not _agrees(row, person, problems):
            continue
        person.phone = person.phone or row.phone
        person.username = person.username or row.username
        if person.username:
            by_username[person.username.lower()] = person
        if person.phone:
            by_phone[person.phone] = person
        if row.membership is not None:
            twice = next((r for r in person.rows if _same_role(r.membership, row.membership)), None)
            if twice is not None:
                problems.add(
                    row.line,
                    _("the same role is already given to this person on line %(line)d.")
                    % {"line": twice.line},
                )
                continue
        person.rows.append(row)
    return people


def _agrees(row: StaffRow, person: StaffPerson, problems: Problems) -> bool:
    clashes = []
    if row.name != person.name:
        clashes.append(_("the name %(name)s") % {"name": person.name})
    if row.phone and person.phone and row.phone != person.phone:
        clashes.append(_("the mobile number %(phone)s") % {"phone": person.phone})
    if row.username and person.username and row.username != person.username:
        clashes.append(_("the user name %(name)s") % {"name": person.username})
    if clashes:
        problems.add(
            row.line,
            _("line %(line)d gives this person %(what)s.")
            % {"line": person.line, "what": ", ".join(clashes)},
        )
    return not clashes


def _same_role(a: Membership | None, b: Membership | None) -> bool:
    return a is not None and b is not None and _key(a) == _key(b)


def _key(membership: Membership) -> tuple:
    return (membership.role, membership.county_id, membership.town_id, membership.village_id)


def match_people(people: list[StaffPerson], problems: Problems) -> None:
    """Finds the stored user of each person (by user name, else by mobile number): three
    queries however long the file."""
    users = get_user_model().objects.all()
    lowered = {p.username.lower() for p in people if p.username}
    by_lower = {
        u.username.lower(): u for u in users.annotate(key=Lower("username")).filter(key__in=lowered)
    }
    phones = {p.phone for p in people if p.phone}
    owner_of = dict(Person.objects.filter(phone__in=phones).values_list("phone", "user_id"))
    by_pk = {u.pk: u for u in users.filter(pk__in=owner_of.values())} | {
        u.pk: u for u in by_lower.values()
    }
    for person in people:
        named = by_lower.get(person.username.lower()) if person.username else None
        if named is not None and named.username != person.username:
            problems.add(
                person.line,
                _("the user name %(name)s exists as %(stored)s; write it the same way.")
                % {"name": person.username, "stored": named.username},
            )
            continue
        phoned = by_pk.get(owner_of.get(person.phone)) if person.phone else None
        if phoned is not None and named is not None and phoned.pk != named.pk:
            problems.add(
                person.line,
                _("the mobile number %(phone)s belongs to %(other)s, not to %(name)s.")
                % {"phone": person.phone, "other": phoned.username, "name": named.username},
            )
            continue
        if phoned is not None and person.username and named is None:
            problems.add(
                person.line,
                _("the mobile number %(phone)s belongs to %(other)s, not to %(name)s.")
                % {"phone": person.phone, "other": phoned.username, "name": person.username},
            )
            continue
        person.user = named or phoned
        if person.user is None and not person.username:
            problems.add(person.line, _("a new person needs a user name."))


def check_rights(people: list[StaffPerson], by, problems: Problems) -> None:
    """The people pages' rules, for the user importing: each role one he may give, each
    person found one he may see and change, and not his own last role of managing people."""
    stored = [p for p in people if p.user is not None]
    visible = set(
        selectors.people_visible_to(by)
        .filter(pk__in=[p.user.pk for p in stored])
        .values_list("pk", flat=True)
    )
    current = _memberships_of(stored)
    for person in people:
        try:
            if person.user is not None:
                if person.user.pk not in visible:
                    raise ApplicationError(_("this person is outside your jurisdiction."))
                services.require_manage(by, person.user, current[person.user.pk])
                wanted = {_key(r.membership) for r in person.rows}
                removed = [m for m in current[person.user.pk] if _key(m) not in wanted]
                for membership in removed:
                    services.require_grant(by, membership)
                services.require_not_last_manager_role(by, person.user, removed)
        except ApplicationError as error:
            problems.add(person.line, error.message)
        for row in person.rows:
            try:
                services.require_grant(by, row.membership)
            except ApplicationError as error:
                problems.add(row.line, error.message)


def _memberships_of(stored: list[StaffPerson]) -> dict[int, list[Membership]]:
    memberships = defaultdict(list)
    shown = selectors.memberships_shown().filter(user__in=[p.user.pk for p in stored])
    for membership in shown:
        memberships[membership.user_id].append(membership)
    return memberships


# --- writing ---------------------------------------------------------------------------------


def _write(people: list[StaffPerson], by) -> StaffImportSummary:
    summary = StaffImportSummary()
    stored = [p for p in people if p.user is not None]
    current = _memberships_of(stored)
    profiles = {p.user_id: p for p in Person.objects.filter(user__in=[s.user.pk for s in stored])}
    renamed, rephoned, removed, added, audits = [], [], [], [], []
    for person in stored:
        user, rows = person.user, person.rows
        before = sorted((services.role_entry(m) for m in current[user.pk]), key=_entry_key)
        after = sorted((services.role_entry(r.membership) for r in rows), key=_entry_key)
        wanted = {_key(r.membership) for r in rows}
        held = {_key(m) for m in current[user.pk]}
        details_before, details_after = {}, {}
        if person.name != user.get_full_name():
            details_before["name"], details_after["name"] = user.get_full_name(), person.name
            user.first_name, user.last_name = person.name, ""
            renamed.append(user)
        profile = profiles.get(user.pk)
        stored_phone = profile.phone if profile is not None else ""
        if person.phone and person.phone != stored_phone:
            details_before["phone"] = mask_phone(stored_phone) if stored_phone else ""
            details_after["phone"] = mask_phone(person.phone)
            rephoned.append(Person(user=user, phone=person.phone))
        if details_after:
            audits.append(_change(user, by, Action.DETAILS_CHANGED, details_before, details_after))
            summary.details_changed += 1
        if wanted != held:
            removed += [m.pk for m in current[user.pk] if _key(m) not in wanted]
            added += [_for(user, r.membership) for r in rows if _key(r.membership) not in held]
            audits.append(
                _change(user, by, Action.ROLES_CHANGED, {"roles": before}, {"roles": after})
            )
            summary.roles_changed += 1
        elif not details_after:
            summary.unchanged += 1
    # Hashing costs a third of a second a person: done before the transaction opens.
    new_users = []
    for person in people:
        if person.user is None:
            user = get_user_model()(username=person.username, first_name=person.name)
            password = services.one_time_password(user)
            user.set_password(password)
            new_users.append((person, user))
            summary.passwords.append((person.name, person.username, password))
    try:
        _save(renamed, rephoned, removed, added, audits, new_users, by)
    except IntegrityError:  # a user name or number taken by someone else since the checks
        raise StaffImportError(
            [_("Someone changed the same people meanwhile; nothing was imported. Run it again.")]
        ) from None
    summary.created = len(new_users)
    return summary


def _save(renamed, rephoned, removed, added, audits, new_users, by) -> None:
    """All of it in one transaction: people, profiles, roles and their audit rows."""
    with transaction.atomic():
        User = get_user_model()
        User.objects.bulk_update(renamed, ["first_name", "last_name"])
        Person.objects.bulk_create(
            rephoned, update_conflicts=True, unique_fields=["user"], update_fields=["phone"]
        )
        Membership.objects.filter(pk__in=removed).delete()
        User.objects.bulk_create([user for _person, user in new_users])
        Person.objects.bulk_create(
            Person(user=user, phone=person.phone, must_change_password=True)
            for person, user in new_users
        )
        for person, user in new_users:
            added += [_for(user, r.membership) for r in person.rows]
            entries = sorted(
                (services.role_entry(r.membership) for r in person.rows), key=_entry_key
            )
            audits.append(_change(user, by, Action.CREATED, {}, {"roles": entries, "active": True}))
        Membership.objects.bulk_create(added)
        MembershipChange.objects.bulk_create(audits)


def _for(user, membership: Membership) -> Membership:
    return Membership(
        user=user,
        role=membership.role,
        county_id=membership.county_id,
        town=membership.town,
        village=membership.village,
    )


def _change(user, by, action, before, after, via=MembershipChange.Via.IMPORT) -> MembershipChange:
    return MembershipChange(user=user, actor=by, action=action, before=before, after=after, via=via)


def _entry_key(entry: dict) -> tuple:
    return (entry["role"], entry["town"] or "", entry["village"] or "")
