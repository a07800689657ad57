"""Access as data: every role is spelled in villages/access.py alone, every permission a
template asks for exists, and a permission answers as its table says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

from villages import access
from villages.access import PERMISSIONS, Role

ROOT = Path(settings.BASE_DIR)
APP_CODE = ("villages", "workflows", "inspections", "config", "core", "templates")
ROLE_LITERAL = re.compile(r"""["'](""" + "|".join(Role.values) + r""")["']""")
# Calls and names whose strings are field names, not roles ("inspector" is a patrol's field).
FIELD_LISTS = {"select_related", "prefetch_related", "only", "defer", "UniqueConstraint"}
FIELD_NAMES = {"list_display", "fields", "list_filter"}


def app_files(*suffixes: str):
    for folder in APP_CODE:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in suffixes and "migrations" not in path.parts:
                yield path


def role_strings(path: Path) -> list[int]:
    """Lines of a module where a role's value is written as a string, outside field lists and
    the toilet ticket's channel (村管员代报 is how a request came in, not who may act)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        name = ""
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        elif isinstance(node, ast.Assign | ast.keyword):
            targets = node.targets if isinstance(node, ast.Assign) else [node]
            name = next((getattr(t, "id", getattr(t, "arg", "")) for t in targets), "")
        elif isinstance(node, ast.ClassDef) and node.name == "Channel":
            name = "Channel"
        if name in FIELD_LISTS | FIELD_NAMES | {"Channel", "verbose_name"}:
            skipped.update(id(child) for child in ast.walk(node))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in Role.values and id(node) not in skipped
    ]


def test_no_file_but_the_access_module_spells_a_role():
    spelled = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in app_files(".py")
        if path != ROOT / "villages" / "access.py"
        for line in role_strings(path)
    ]
    spelled += [
        f"{path.relative_to(ROOT)}:{number}"
        for path in app_files(".html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ROLE_LITERAL.search(line)
    ]
    assert spelled == []


def test_every_permission_a_template_asks_for_exists():
    asked = {
        match
        for path in app_files(".html")
        for match in re.findall(r"\bcan\.([a-z_]+\.[a-z_]+)", path.read_text())
    }
    assert asked, "the templates ask by permission name"
    assert asked - set(PERMISSIONS) == set()


def test_every_permission_names_known_roles():
    for permission in PERMISSIONS.values():
        assert permission.roles, permission.name
        assert set(permission.roles) <= set(Role.values), permission.name


def test_a_template_asks_by_name(hj_officer, task_force):
    can = access.Can(hj_officer)
    assert can["ticket"]["submit"] is True
    assert can["ticket"]["close"] is False
    assert access.Can(task_force)["ticket"]["close"] is True
    with pytest.raises(KeyError):
        can["ticket"]["clsoe"]


def test_a_permission_reaches_only_the_holders_jurisdiction(hj_officer, huji, jishu):
    from workflows.models import RectificationTicket

    assert access.allows(hj_officer, "ticket.submit", RectificationTicket(town=huji))
    assert not access.allows(hj_officer, "ticket.submit", RectificationTicket(town=jishu))


def test_a_county_permission_needs_a_county_wide_membership(town_inspector, task_force):
    # round.manage is the task force's, county-wide; assessment.make an inspector's anywhere
    assert access.allows(task_force, "round.manage")
    assert not access.allows(town_inspector, "round.manage")
    assert access.allows(town_inspector, "assessment.make")
    assert access.scope(town_inspector, "round.manage").is_empty


def test_the_start_page_shows_a_card_per_role_held(client, hj_officer):
    client.force_login(hj_officer)
    html = client.get("/").content.decode()
    assert "乡镇专干" in html or "Town officer" in html
    assert "County task force" not in html and "县专班" not in html.split("<main")[-1]
