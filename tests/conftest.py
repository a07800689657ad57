"""Shared fixtures: the real geography of 金乡县 and the named users (docs/architecture.md §4).

Every named user is built on the real 2023 division list, so a scope test sees 13 towns and
558 villages, not a toy of two. Fixtures are function-scoped: each test gets its own copy inside
its transaction (the import takes about 0.1 s).

| fixture          | membership                         | must see                          |
|------------------|------------------------------------|-----------------------------------|
| task_force       | task force, county-wide            | everything                        |
| hj_officer       | town officer of 胡集镇             | 胡集镇 only                       |
| other_officer    | town officer of 鸡黍镇             | nothing of 胡集镇                 |
| inspector        | inspector, county-wide             | everything                        |
| town_inspector   | inspector of 胡集镇                 | 胡集镇 only                       |
| service_worker   | service worker, county-wide        | everything (calls households back) |
| village_admin    | village admin of 胡集村 (胡集镇)    | that village (+ its 自然村)       |
| nobody           | active user without membership     | nothing                           |
"""

from __future__ import annotations

import pytest
from django.core.cache import cache, caches

from tests.factories import (
    HUJI_CODE,
    JISHU_CODE,
    load_divisions,
    make_user,
    membership,
)
from villages.models import Role, Town, Village


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # PBKDF2 at production strength costs ~0.3 s per user; the tests create many.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache(settings):
    # Each test's rows are rolled back (and their ids given again on SQLite); what the cache
    # kept of them (the patrol policy, the scan page's parts) must go with them. In memory even
    # with REDIS_URL set: clearing a Redis cache empties its whole database, the queue's too.
    # The PDFs kept in "documents" (core.pdf.cached_pdf) likewise, in memory, not in DATA_DIR.
    memory = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    settings.CACHES = {"default": memory, "documents": memory | {"LOCATION": "documents"}}
    cache.clear()
    caches["documents"].clear()
    yield
    cache.clear()
    caches["documents"].clear()


@pytest.fixture
def divisions(db) -> None:
    """金乡县 as the statistics bureau lists it in 2023: 1 county, 13 towns, 558 villages."""
    load_divisions()


@pytest.fixture
def huji(divisions) -> Town:
    return Town.objects.get(code=HUJI_CODE)


@pytest.fixture
def jishu(divisions) -> Town:
    return Town.objects.get(code=JISHU_CODE)


@pytest.fixture
def huji_village(huji) -> Village:
    """胡集村民委员会, the first administrative village of 胡集镇."""
    return huji.villages.administrative().order_by("code").first()


@pytest.fixture
def jishu_village(jishu) -> Village:
    return jishu.villages.administrative().order_by("code").first()


@pytest.fixture
def task_force(divisions):
    return make_user("task_force", membership(Role.TASK_FORCE))


@pytest.fixture
def hj_officer(huji):
    return make_user("hj_officer", membership(Role.TOWN_OFFICER, huji))


@pytest.fixture
def other_officer(jishu):
    return make_user("other_officer", membership(Role.TOWN_OFFICER, jishu))


@pytest.fixture
def inspector(divisions):
    return make_user("inspector", membership(Role.INSPECTOR))


@pytest.fixture
def town_inspector(huji):
    return make_user("town_inspector", membership(Role.INSPECTOR, huji))


@pytest.fixture
def service_worker(divisions):
    return make_user("service_worker", membership(Role.SERVICE_WORKER))


@pytest.fixture
def village_admin(huji_village):
    return make_user("village_admin", membership(Role.VILLAGE_ADMIN, huji_village))


@pytest.fixture
def nobody(divisions):
    return make_user("nobody")
