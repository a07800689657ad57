"""Every page fits a 360-px phone (user testing: the bulletin list, a round's page, the
notifications and /jobs/ scrolled sideways at 390 px, some tables squeezed a Chinese title to
one character a line). In a real Chromium, every HTML page of the scope matrix that a role may
open (its expectation 200), as that role, on the matrix's world: the page is no wider than the
screen, and no table heading or cell is narrower than two characters.

A table may still scroll inside its own box (a wide ledger on a desk page); the page may not.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client, override_settings

from tests.test_scope_matrix import CASES, HTML, ROLES, _url, build_world
from tests.workflows.ladder import ladder  # noqa: F401 (autouse: the world issues overdue notices)

CHROMIUM = "/usr/bin/chromium"
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright for Python is not installed (pip install -e '.[dev]')",
)
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}

# What the page measures: how wide it is, and the table cells whose text stands one character
# a line (every character of a text of two or more on a line of its own).
MEASURE = """(screen) => {
  const squeezed = [];
  for (const cell of document.querySelectorAll("main th, main td")) {
    if (!cell.offsetParent) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const tops = new Set();
      let letters = 0;
      for (let i = 0; i < node.data.length; i++) {
        if (/\\s/.test(node.data[i])) continue;
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        tops.add(Math.round(range.getBoundingClientRect().top));
        letters++;
      }
      if (letters >= 2 && tops.size === letters) squeezed.push(node.data.trim().slice(0, 12));
    }
  }
  // The outermost elements that stick out, to name in the failure.
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.getBoundingClientRect().right <= screen + 1) continue;
    let clipped = false;  // inside a box that scrolls or clips by itself
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") { clipped = true; break; }
    }
    if (clipped) continue;
    if (out.some((parent) => parent.contains(el))) continue;
    out.push(el);
  }
  const named = (el) => [el.tagName.toLowerCase(), ...el.classList].join(".");
  const names = out.slice(0, 3).map(named);
  return {width: document.documentElement.scrollWidth, squeezed: squeezed.slice(0, 3), out: names};
}"""


def pages_of(role: str, world) -> list[tuple[str, str]]:
    """(case key, path with query) of every HTML page the matrix lets `role` open."""
    pages = []
    for key, case in CASES.items():
        if case.method != "GET" or case.content_type != HTML:
            continue
        for town in case.towns():
            town = town if town != "-" else "huji"
            if case.expected(role, town) != "200":
                continue
            url = _url(case, key, world, town)
            if case.query:
                query = case.query(world, town)
                url += "?" + urlencode(query, doseq=True)
            pages.append((key, url))
    return pages


def session_cookie(user, base: str) -> dict:
    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": base}


def test_every_page_fits_a_360_px_phone_for_every_role(live_server, monkeypatch, tmp_path):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread
    with override_settings(MEDIA_ROOT=tmp_path):
        world = build_world()
        users = get_user_model().objects.in_bulk(field_name="username")
        wide, squeezed, seen = [], [], 0
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for username in ROLES.values():
                context = browser.new_context(
                    viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN"
                )
                context.add_cookies([session_cookie(users[username], live_server.url)])
                page = context.new_page()
                for key, path in pages_of(username, world):
                    response = page.goto(live_server.url + path)
                    assert response.status == 200, (key, username, path, response.status)
                    seen += 1
                    measured = page.evaluate(MEASURE, PHONE["width"])
                    if measured["width"] > PHONE["width"]:
                        width, out = measured["width"], measured["out"]
                        wide.append(f"{key} as {username}: {width} px ({path}) {out}")
                    if measured["squeezed"]:
                        squeezed.append(f"{key} as {username}: {measured['squeezed']}")
                context.close()
            browser.close()
            connections.close_all()
    print(f"\n{seen} page views at {PHONE['width']} px")
    assert seen > 150, seen  # the matrix's pages × roles, not a handful
    assert wide + squeezed == [], "\n".join(wide + squeezed)
