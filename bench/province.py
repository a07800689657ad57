"""A synthetic province generated straight in PostgreSQL, for bench_province (issue 20, item 4).

At the full size: 10 prefectures (cities) of 10 counties each, 1,500 towns, 60,000 administrative
villages with 10 households each, 10,000 water sites with about 2,000,000 patrols over the last
five years, 9,000,000 rectification tickets and 1,000,000 toilet tickets over five years; per
county a task force and an inspector (county-wide), per town a town officer with an e-mail
address. `SIZES` holds smaller ones: "smoke" (a run of well under a minute) and "tiny" (the test).

Codes are 12-digit and nest as the statistical codes do (province 2 digits, prefecture 2, county
2, town 3, village 3), under the province code 99: no real province has it (the real ones run
11–65, 71, 81, 82), so the data can never be mistaken for a real county's. Names are Chinese,
put together from syllables ("青河县", "柳林镇", "王庄村民委员会"). Towns and villages differ in
number from county to county and town to town (`spread`), so counties differ in size.

Tickets are spread over five years with the state mix a county has: a ticket older than three
months is nearly always closed (95 %) or cancelled, a few stay open for years; the last three
months hold the running work (a quarter assigned, some submitted, sent back or waiting for an
extension). Closing takes days (log-normal, median 12 days), deadlines are 7, 15 or 30 days
after opening. Toilet tickets are done and confirmed after a day or two, the last weeks' still
pending, some past their SLA. Sites are patrolled 2, 4 or 8 times a month (weekly for most),
nine site-months in ten fully, from their registration on.

The loading follows bench_dashboard: geography and people by COPY / bulk_create, everything big
by one `INSERT … SELECT` over generate_series joined to a prepared "calendar" of ticket lives, with
the ticket tables' triggers off (bench_dashboard.triggers_off: the rollups and the search index);
the rollups are then made by rebuild_rollups, the search index filled as `search_sql.rebuild` does
(its GIN index built once after), and everything is VACUUM ANALYZEd. PostgreSQL only.

Run on its own (a database of your own; it must be migrated and empty):
    DATABASE_URL=postgres://…/h_prov .venv/bin/python bench/province.py [full|smoke|tiny]
"""

from __future__ import annotations

import math
import random
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

PROVINCE = "99"  # no real province: see the docstring
YEARS = 5
CALENDAR = 20_000  # prepared ticket lives, each used by many (town, n) pairs
# (patrols per month, share in %) of the water sites.
FREQUENCIES = [(2, 30), (4, 55), (8, 15)]
FULL_MONTHS = 90  # % of site-months patrolled in full; the rest short (some none at all)


@dataclass(frozen=True)
class Size:
    name: str
    counties: int
    towns: int
    villages: int
    households_per_village: int
    sites: int
    patrols: int  # aimed at: the months patrolled follow from it (at most five years)
    tickets: int  # rectification tickets
    toilet_tickets: int

    @property
    def prefectures(self) -> int:
        return max(1, math.ceil(self.counties / 10))


SIZES = {
    "full": Size("full", 100, 1_500, 60_000, 10, 10_000, 2_000_000, 9_000_000, 1_000_000),
    "smoke": Size("smoke", 4, 40, 1_200, 5, 300, 40_000, 100_000, 10_000),
    "tiny": Size("tiny", 3, 9, 45, 2, 30, 1_500, 3_000, 300),
}

# Syllables of the generated names (a county, a town and a village take two each).
FIRST = "青清白红黄金银石柳杨桃李梅松竹凤龙马牛羊鹿河湖山岭坡泉溪沙田丰安平和兴隆福寿永新"
SECOND = "河山林庄集口桥店屯营寨沟洼台湾洲坊铺园堂城门头冈峪埠圩岗塘源湖坝渡港镇寺亭"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
PROBLEMS = [
    "河道岸边堆放生活垃圾",
    "坑塘水面漂浮物较多",
    "沟渠黑臭，群众反映强烈",
    "村内道路两侧柴草乱堆",
    "户厕化粪池渗漏",
    "污水直排入河",
    "村口违建未拆除",
    "垃圾桶满溢未及时清运",
]
CATEGORIES = ["garbage", "sewage", "sewage", "appearance", "toilets", "sewage", "appearance"]
SOURCES = ["patrol"] * 50 + ["assessment"] * 25 + ["bulletin"] * 10 + ["revisit"] * 10
SOURCES += ["report"] * 4 + ["hotline"]
# (share in %, state) of a ticket opened more than RECENT_DAYS ago, and of a recent one.
RECENT_DAYS = 90
OLD_STATES = [(95, "closed"), (4, "cancelled"), (1, "running")]  # "running": see _old_running
RECENT_STATES = [
    (52, "closed"),
    (3, "cancelled"),
    (4, "draft"),
    (25, "assigned"),
    (8, "submitted"),
    (4, "rejected"),
    (4, "extension_requested"),
]
TOILET_KINDS = ["pumping"] * 6 + ["repair", "unblocking", "other"]
TOILET_OPEN = ["reported", "dispatched", "accepted", "in_service", "done", "returned"]


def spread(total: int, parts: int, rng: random.Random, *, low: float = 0.6) -> list[int]:
    """`total` split into `parts` whole numbers, each ≥ 1, varying between about `low` and
    2 − `low` times the mean, summing to `total` exactly."""
    weights = [low + 2 * (1 - low) * rng.random() for _ in range(parts)]
    scale = (total - parts) / sum(weights)
    sizes = [1 + int(w * scale) for w in weights]
    for i in range(total - sum(sizes)):
        sizes[i % parts] += 1
    return sizes


def name(rng: random.Random, suffix: str) -> str:
    return rng.choice(FIRST) + rng.choice(SECOND) + suffix


# --- the geography -------------------------------------------------------------------------------


@dataclass
class Geography:
    counties: list[tuple[str, str, str]]  # (code, name, prefecture code)
    towns: list[tuple[str, str, str, str]]  # (code, county, name, kind)
    villages: list[tuple[str, str, str]]  # (code, town, name)


def geography(size: Size, rng: random.Random) -> Geography:
    counties, towns, villages = [], [], []
    per_county = spread(size.towns, size.counties, rng)
    per_town = spread(size.villages, size.towns, rng)
    town_index = 0
    for n in range(size.counties):
        prefecture = f"{PROVINCE}{n // 10 + 1:02d}"
        county = f"{prefecture}{n % 10 + 1:02d}"
        counties.append((f"{county}000000", name(rng, "县"), f"{prefecture}00000000"))
        for t in range(per_county[n]):
            kind, suffix = (
                ("subdistrict", "街道")
                if t < 2
                else rng.choice([("town", "镇")] * 3 + [("township", "乡")])
            )
            town = f"{county}{t + 1:03d}"
            towns.append((f"{town}000", f"{county}000000", name(rng, suffix), kind))
            for v in range(per_town[town_index]):
                committee = "居民委员会" if kind == "subdistrict" and v < 3 else "村民委员会"
                villages.append((f"{town}{v + 1:03d}", f"{town}000", name(rng, committee)))
            town_index += 1
    return Geography(counties, towns, villages)


def _copy(table: str, columns: list[str], rows) -> None:
    from django.db import connection

    connection.ensure_connection()
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def load_geography(geo: Geography) -> None:
    """The cities (each the parent of up to 10 counties, named from its code), the counties, the
    towns and the villages."""
    cities = sorted({parent for _code, _name, parent in geo.counties})
    _copy("villages_city", ["code", "name"], ((c, name(random.Random(c), "市")) for c in cities))
    _copy("villages_county", ["code", "name", "parent_code"], geo.counties)
    _copy("villages_town", ["code", "county_id", "name", "kind"], geo.towns)
    _copy(
        "villages_village",
        ["code", "town_id", "name", "level", "committee_type", "urban_rural_code"],
        (
            (
                code,
                town,
                vname,
                "administrative",
                "residents" if vname.endswith("居民委员会") else "villagers",
                "112" if vname.endswith("居民委员会") else "220",
            )
            for code, town, vname in geo.villages
        ),
    )


# --- people ------------------------------------------------------------------------------------


def load_people(geo: Geography) -> None:
    """Per city a city supervisor, per county a task force and an inspector (county-wide), per
    town a town officer with an e-mail address (the notices' recipients); usernames tell the
    place: cs_9905, tf_990505, in_990505, to_990505003."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from villages.models import Membership, Role

    User = get_user_model()
    password = make_password(None)  # unusable: the bench logs in with force_login
    users = []
    cities = sorted({parent for _code, _name, parent in geo.counties})
    for code in cities:
        users.append(User(username=f"cs_{code[:4]}", password=password, last_name="市级督导"))
    for code, _name, _parent in geo.counties:
        users.append(User(username=f"tf_{code[:6]}", password=password, last_name="专班"))
        users.append(User(username=f"in_{code[:6]}", password=password, last_name="巡查员"))
    for code, _county, _name, _kind in geo.towns:
        users.append(
            User(
                username=f"to_{code[:9]}",
                password=password,
                last_name="专干",
                email=f"{code[:9]}@example.gov.cn",
            )
        )
    User.objects.bulk_create(users, batch_size=5000)
    ids = dict(
        User.objects.filter(username__in=[u.username for u in users]).values_list("username", "id")
    )
    memberships = [
        Membership(user_id=ids[f"cs_{code[:4]}"], role=Role.CITY_SUPERVISOR, city_id=code)
        for code in cities
    ]
    for code, _name, _parent in geo.counties:
        memberships.append(
            Membership(user_id=ids[f"tf_{code[:6]}"], role=Role.TASK_FORCE, county_id=code)
        )
        memberships.append(
            Membership(user_id=ids[f"in_{code[:6]}"], role=Role.INSPECTOR, county_id=code)
        )
    for code, county, _name, _kind in geo.towns:
        memberships.append(
            Membership(
                user_id=ids[f"to_{code[:9]}"],
                role=Role.TOWN_OFFICER,
                county_id=county,
                town_id=code,
            )
        )
    Membership.objects.bulk_create(memberships, batch_size=5000)


# --- the big tables, by INSERT … SELECT --------------------------------------------------------


def _u(seed: int, column: str = "n") -> str:
    """A uniform number in [0, 1) drawn from `column` (a row counter) by PostgreSQL's 64-bit
    integer hash with `seed`: the same for every run, independent between seeds."""
    return f"((hashint8extended({column}::bigint, {seed}) & 4294967295) / 4294967296.0::float8)"


def _execute(sql: str, params=None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _helper_tables() -> None:
    """Unlogged lookup tables numbering the villages (idx from 0, in code order) with their
    town and county inspector, and the households: INSERT … SELECT picks them by number."""
    _execute(
        """
        CREATE UNLOGGED TABLE bench_village AS
        SELECT (row_number() OVER (ORDER BY v.code) - 1)::int AS idx, v.code, v.town_id,
            v.name, u.id AS inspector_id
        FROM villages_village v
        JOIN villages_town t ON t.code = v.town_id
        JOIN auth_user u ON u.username = 'in_' || left(t.county_id, 6)
        """
    )
    _execute("ALTER TABLE bench_village ADD PRIMARY KEY (idx)")
    _execute("ANALYZE bench_village")


def _drop_helpers() -> None:
    _execute("DROP TABLE IF EXISTS bench_village, bench_household")


def load_households(per_village: int) -> int:
    surnames = len(SURNAMES)
    made = _execute(
        f"""
        INSERT INTO villages_household (number, head_name, id_number_masked, id_number_digest,
            phone, address, toilet_type, problem, village_id)
        SELECT lpad(k::text, 3, '0'),
            substr(%s, 1 + (abs(hashtext(v.code || k)) %% {surnames}), 1) || '某',
            '', '', '', v.name || k || '号',
            CASE WHEN abs(hashtext(v.code || k)) %% 10 < 8 THEN 'three_compartment'
                 ELSE 'double_urn' END,
            '', v.code
        FROM bench_village v CROSS JOIN generate_series(1, %s) k
        ORDER BY v.code, k
        """,
        [SURNAMES, per_village],
    )
    _execute(
        """
        CREATE UNLOGGED TABLE bench_household AS
        SELECT (row_number() OVER (ORDER BY h.id) - 1)::int AS idx, h.id, h.village_id,
            v.town_id
        FROM villages_household h JOIN bench_village v ON v.code = h.village_id
        """
    )
    _execute("ALTER TABLE bench_household ADD PRIMARY KEY (idx)")
    _execute("ANALYZE bench_household")
    return made


def load_sites(count: int, now: datetime) -> int:
    from common import SITE_PEOPLE

    villages = _scalar("SELECT COUNT(*) FROM bench_village")
    frequency = " ".join(
        f"WHEN {_u(11)} < {sum(s for _f, s in FREQUENCIES[: i + 1]) / 100} THEN {f}"
        for i, (f, _s) in enumerate(FREQUENCIES)
    )
    people = list(SITE_PEOPLE)
    return _execute(
        f"""
        INSERT INTO inspections_watersite (code, name, kind, lat, lng, list_level, treatment,
            {", ".join(people)}, patrols_per_month, state, token, token_issued_at,
            created_at, updated_at, town_id, village_id)
        SELECT 'HC' || left(v.code, 6) || '-' || lpad(n::text, 5, '0'),
            left(v.name, 2) || CASE WHEN {_u(12)} < 0.6 THEN '坑塘' WHEN {_u(12)} < 0.85
                THEN '沟渠' WHEN {_u(12)} < 0.95 THEN '河段' ELSE '湖' END || (n %% 9 + 1) || '号',
            CASE WHEN {_u(12)} < 0.6 THEN 'pond' WHEN {_u(12)} < 0.85 THEN 'ditch'
                WHEN {_u(12)} < 0.95 THEN 'river' ELSE 'lake' END,
            32 + 4 * {_u(13)}, 113 + 6 * {_u(14)},
            CASE WHEN {_u(15)} < 0.1 THEN 'provincial' ELSE 'county' END, '',
            {", ".join(["%s"] * len(people))},
            CASE {frequency} ELSE 4 END,
            CASE WHEN {_u(16)} < 0.88 THEN 'maintained' WHEN {_u(16)} < 0.94 THEN 'governing'
                WHEN {_u(16)} < 0.96 THEN 'suspected' WHEN {_u(16)} < 0.98 THEN 'rebound'
                ELSE 'delisted' END,
            md5('site' || n), %s,
            %s - make_interval(days => CASE WHEN {_u(17)} < 0.85 THEN {YEARS * 365 + 30}
                ELSE (30 + {_u(18)} * {YEARS * 365 - 60})::int END),
            %s, v.town_id, v.code
        FROM generate_series(1, %s) n
        JOIN bench_village v ON v.idx = (hashint8extended(n::bigint, 10) & 2147483647) %% %s
        ORDER BY n
        """,
        [*SITE_PEOPLE.values(), now, now, now, count, villages],
    )


def _scalar(sql: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def load_patrols(target: int, sites: int, today) -> tuple[int, int]:
    """Every listed site's patrols month by month since its registration, over as many of the
    last months as `target` needs (at most five years); a site-month has its patrols spread
    over the month (none after today), nine in ten in full, the rest short. Returns (patrols,
    months)."""
    from core.dates import add_months, month_start

    mean = sum(f * s for f, s in FREQUENCIES) / 100
    months = max(1, min(YEARS * 12, math.ceil(target / (sites * mean * 0.95))))
    first = add_months(month_start(today), -(months - 1))
    # (site, month) → u: the month's fate; k: the k-th patrol of the month's quota.
    sm = "hashint8extended(s.id * 1000 + m.i, 21)"
    u = f"((({sm}) & 4294967295) / 4294967296.0::float8)"
    made = _execute(
        f"""
        INSERT INTO inspections_patrol (site_id, inspector_id, key, observed_at, created_at,
            local_date, color_abnormal, odour, floating_debris, bank_garbage, new_outfall,
            signboard, previous_fixed, result, note, flags, checks, flagged)
        SELECT site_id, inspector_id, gen_random_uuid(), at, at, day,
            problem AND h %% 3 = 0, problem AND h %% 3 = 1, problem AND h %% 3 = 2, false, false,
            'good', 'none', CASE WHEN problem THEN 'problem' ELSE 'normal' END, '',
            '[]'::jsonb, '[]'::jsonb, h %% 100 < 2
        FROM (
            SELECT s.id AS site_id, v.inspector_id, d.day,
                (d.day + time '10:00') AT TIME ZONE %s AS at,
                abs(hashint8extended(s.id * 100000 + m.i * 10 + k, 22)) AS h,
                abs(hashint8extended(s.id * 100000 + m.i * 10 + k, 23)) %% 100 < 3 AS problem
            FROM inspections_watersite s
            JOIN bench_village v ON v.code = s.village_id
            CROSS JOIN generate_series(0, %s) AS m(i)
            CROSS JOIN LATERAL (SELECT (%s::date + make_interval(months => m.i))::date AS start)
                AS ms
            CROSS JOIN LATERAL generate_series(1, s.patrols_per_month) AS k
            CROSS JOIN LATERAL (
                SELECT (ms.start + ((k - 1) * 28 / s.patrols_per_month
                    + abs({sm}) %% GREATEST(28 / s.patrols_per_month, 1))::int)::date AS day
            ) AS d
            WHERE s.state <> 'delisted'
              AND ms.start >= date_trunc('month', s.created_at AT TIME ZONE %s)::date
              AND d.day <= %s
              AND k <= CASE WHEN {u} < {FULL_MONTHS / 100} THEN s.patrols_per_month
                  WHEN {u} < 0.97 THEN s.patrols_per_month / 2 ELSE 0 END
            ORDER BY d.day, s.id
        ) p
        """,
        ["Asia/Shanghai", months - 1, first, "Asia/Shanghai", today],
    )
    return made, months


def load_tickets(total: int, now: datetime) -> int:
    """`total` rectification tickets opened evenly over five years up to `now`, in the order
    they were opened (the table's physical order, as a county's is), each in a village drawn
    at random (so a town's share follows its villages)."""
    span = timedelta(days=YEARS * 365)
    start = now - span
    villages = _scalar("SELECT COUNT(*) FROM bench_village")
    recent = now - timedelta(days=RECENT_DAYS)

    def states(weighted: list[tuple[int, str]], u: str) -> str:
        branches, edge = [], 0
        for share, state in weighted:
            edge += share
            branches.append(f"WHEN {u} < {edge / 100} THEN '{state}'")
        return "CASE " + " ".join(branches) + f" ELSE '{weighted[-1][1]}' END"

    old = states(OLD_STATES, _u(31))
    old = old.replace(
        "'running'",
        f"CASE WHEN {_u(38)} < 0.6 THEN 'assigned' WHEN {_u(38)} < 0.8 "
        "THEN 'extension_requested' ELSE 'submitted' END",
    )
    descriptions = "(ARRAY[" + ", ".join(f"'{p}'" for p in PROBLEMS) + "])"
    categories = "(ARRAY[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "])"
    sources = "(ARRAY[" + ", ".join(f"'{s}'" for s in SOURCES) + "])"
    local = "Asia/Shanghai"
    return _execute(
        f"""
        INSERT INTO workflows_rectificationticket (number, description, created_at, updated_at,
            state, source_kind, site_label, priority, rectification_note, deadline,
            assigned_at, submitted_at, closed_at, town_id, village_id, category)
        SELECT number, description, created, COALESCE(closed, submitted, assigned, created),
            state, source, '', CASE WHEN {_u(36)} < 0.05 THEN 'urgent' ELSE 'normal' END, '',
            CASE WHEN state = 'draft' THEN NULL ELSE
                ((created AT TIME ZONE '{local}')::date + (ARRAY[7, 15, 30])[1 + (n %% 3)])
            END,
            assigned,
            submitted,
            closed, town_id, village_id, category
        FROM (
            SELECT *,
                CASE WHEN state IN ('draft', 'cancelled') THEN NULL
                    ELSE created + interval '3 hours' END AS assigned,
                CASE WHEN state = 'closed' THEN
                    LEAST(created + close_days * interval '1 day', %(now)s) END AS closed,
                CASE WHEN state IN ('submitted', 'closed') THEN
                    LEAST(created + (close_days * 0.8) * interval '1 day', %(now)s) END
                    AS submitted
            FROM (
                SELECT n, created, v.town_id, v.code AS village_id,
                    'ZG-' || extract(year FROM created AT TIME ZONE '{local}') || '-'
                        || lpad(n::text, 7, '0') AS number,
                    {descriptions}[1 + (n %% {len(PROBLEMS)})] AS description,
                    {categories}[1 + (n %% {len(CATEGORIES)})] AS category,
                    {sources}[1 + floor({_u(35)} * {len(SOURCES)})::int] AS source,
                    CASE WHEN created < %(recent)s THEN {old}
                        ELSE {states(RECENT_STATES, _u(32))} END AS state,
                    -- days to close: log-normal, median e^2.5 ≈ 12 days
                    exp(2.5 + 0.7 * sqrt(-2 * ln(1 - {_u(33)})) * cos(2 * pi() * {_u(34)}))
                        AS close_days
                FROM (
                    SELECT n, %(start)s + (n - 1) * %(step)s + {_u(37)} * %(step)s AS created
                    FROM generate_series(1, %(total)s) n
                ) s
                JOIN bench_village v
                  ON v.idx = (hashint8extended(n::bigint, 30) & 2147483647) %% %(villages)s
            ) t
        ) r
        """,
        {
            "now": now,
            "recent": recent,
            "start": start,
            "step": span / total,
            "total": total,
            "villages": villages,
        },
    )


def load_toilet_tickets(total: int, now: datetime) -> int:
    """`total` toilet tickets over five years, each for a household drawn at random: done and
    confirmed after a day or two, the last month's mixed, some still pending past their SLA
    (48 hours)."""
    span = timedelta(days=YEARS * 365)
    households = _scalar("SELECT COUNT(*) FROM bench_household")
    recent = now - timedelta(days=30)
    mix = [
        (12, "reported"),
        (12, "dispatched"),
        (10, "accepted"),
        (8, "in_service"),
        (20, "done"),
        (31, "confirmed"),
        (2, "returned"),
        (5, "cancelled"),
    ]
    branches, edge = [], 0
    for share, state in mix:
        edge += share
        branches.append(f"WHEN {_u(42)} < {edge / 100} THEN '{state}'")
    recent_state = "CASE " + " ".join(branches) + " ELSE 'confirmed' END"
    kinds = "(ARRAY[" + ", ".join(f"'{k}'" for k in TOILET_KINDS) + "])"
    channels = "(ARRAY['phone', 'phone', 'qr', 'village_admin', 'patrol'])"
    local = "Asia/Shanghai"
    return _execute(
        f"""
        INSERT INTO workflows_toiletticket (number, description, created_at, updated_at, state,
            kind, channel, sla_due_at, disposal_site, parts_used, satisfaction, dispatched_at,
            completed_at, confirmed_at, household_id, town_id, village_id)
        SELECT 'GH-' || extract(year FROM created AT TIME ZONE '{local}') || '-'
                || lpad(n::text, 7, '0'),
            '化粪池满，请求抽运', created, created, state, kind, channel,
            created + interval '48 hours', '', '',
            CASE WHEN state = 'confirmed' THEN 'satisfied' ELSE '' END,
            CASE WHEN state NOT IN ('reported', 'cancelled') THEN created + interval '2 hours'
                END,
            CASE WHEN state IN ('done', 'confirmed') THEN created + interval '30 hours' END,
            CASE WHEN state = 'confirmed' THEN created + interval '3 days' END,
            h.id, h.town_id, h.village_id
        FROM (
            SELECT n, created,
                {kinds}[1 + (n %% {len(TOILET_KINDS)})] AS kind,
                {channels}[1 + (n %% 5)] AS channel,
                CASE WHEN created >= %(recent)s THEN {recent_state}
                    WHEN {_u(43)} < 0.9 THEN 'confirmed'
                    WHEN {_u(43)} < 0.96 THEN 'done' ELSE 'cancelled' END AS state
            FROM (
                SELECT n, %(start)s + (n - 1) * %(step)s AS created
                FROM generate_series(1, %(total)s) n
            ) s
        ) t
        JOIN bench_household h
          ON h.idx = (hashint8extended(n::bigint, 40) & 2147483647) %% %(households)s
        """,
        {
            "recent": recent,
            "start": now - span,
            "step": span / total,
            "total": total,
            "households": households,
        },
    )


def set_counters() -> None:
    """The number counters past the generated numbers, as if the tickets had been opened here."""
    for prefix, table in (
        ("ZG", "workflows_rectificationticket"),
        ("GH", "workflows_toiletticket"),
    ):
        _execute(
            f"""
            INSERT INTO workflows_ticketcounter (prefix, year, county, value)
            SELECT %s, substr(number, 4, 4)::int, '', max(substr(number, 9)::int)
            FROM {table} GROUP BY 2
            """,
            [prefix],
        )


def load_grades(now: datetime) -> int:
    """Per county (campaigns are each county's) a campaign with two published rounds grading
    every administrative village of the county, by the county's inspector."""
    from inspections.models import Campaign, ChecklistTemplate, Round

    made = 0
    for county, inspector in _rows(
        """
        SELECT c.code, u.id FROM villages_county c
        JOIN auth_user u ON u.username = 'in_' || left(c.code, 6) ORDER BY c.code
        """
    ):
        template = ChecklistTemplate.objects.create(name="省级抽查", version=1, county_id=county)
        campaign = Campaign.objects.create(
            name="人居环境整治提升", year=now.year, template=template, county_id=county
        )
        for number, mode in ((1, "acceptance"), (2, "sweep")):
            round = Round.objects.create(
                campaign=campaign,
                number=number,
                mode=mode,
                starts_on=now.date() - timedelta(days=120 - 60 * number),
                ends_on=now.date() - timedelta(days=100 - 60 * number),
                state="published",
                template=template,
                published_at=now - timedelta(days=90 - 60 * number),
            )
            u = _u(50 + number, "hashtext(v.code)")
            made += _execute(
                f"""
                INSERT INTO inspections_assessment (created_at, state, score, veto, grade,
                    graded_by, submitted_at, inspector_id, village_id, round_id)
                SELECT %s, 'published', 60 + floor(40 * {u}), false,
                    CASE WHEN {u} < 0.05 THEN 'weak' WHEN {u} < 0.35 THEN 'C'
                        WHEN {u} < 0.75 THEN 'B' ELSE 'A' END,
                    '{{}}'::jsonb, %s, %s, v.code, %s
                FROM villages_village v JOIN villages_town t ON t.code = v.town_id
                WHERE v.level = 'administrative' AND t.county_id = %s
                """,
                [now, now, inspector, round.pk, county],
            )
    return made


# --- the whole province --------------------------------------------------------------------------


@dataclass
class Loaded:
    size: Size
    counts: dict
    seconds: dict  # step → wall seconds
    months: int  # of patrols

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def generate(size: Size, *, seed: int = 1, vacuum: bool = True) -> Loaded:
    """The province of `size` in the (migrated, empty) default database, then the rollups
    rebuilt and VACUUM ANALYZE (`vacuum`; ANALYZE alone otherwise). PostgreSQL only."""
    from bench_dashboard import triggers_off
    from django.db import connection
    from django.utils import timezone

    from inspections.reporting import rollups
    from workflows.tickets import search_sql

    if connection.vendor != "postgresql":
        raise ValueError("the province generator needs PostgreSQL")
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    today = timezone.localdate(now)
    seconds, counts = {}, {}

    def step(label: str, work):
        started = time.perf_counter()
        result = work()
        seconds[label] = time.perf_counter() - started
        print(f"  {label}: {seconds[label]:.1f} s", flush=True)
        return result

    # The bulk load's own settings (this session only): sorts in memory, no wait on the WAL.
    for setting in (
        "enable_mergejoin = off",  # a merge join would sort the rows out of their time order
        "work_mem = '256MB'",
        "maintenance_work_mem = '512MB'",
        "synchronous_commit = off",
    ):
        _execute(f"SET {setting}")
    _execute("SELECT setseed(0.5)")
    geo = step("geography", lambda: _load_geography(size, rng))
    counts.update(
        cities=len({parent for _code, _name, parent in geo.counties}),
        counties=len(geo.counties),
        towns=len(geo.towns),
        villages=len(geo.villages),
    )
    step("people", lambda: load_people(geo))
    step("helper tables", _helper_tables)
    counts["households"] = step("households", lambda: load_households(size.households_per_village))
    counts["sites"] = step("water sites", lambda: load_sites(size.sites, now))
    with indexes_off(["inspections_patrol"], seconds):
        counts["patrols"], months = step(
            "patrols", lambda: load_patrols(size.patrols, size.sites, today)
        )
        _execute("SET CONSTRAINTS ALL IMMEDIATE")
    with triggers_off(True), indexes_off(TICKET_TABLES, seconds):
        counts["tickets"] = step("rectification tickets", lambda: load_tickets(size.tickets, now))
        counts["toilet_tickets"] = step(
            "toilet tickets", lambda: load_toilet_tickets(size.toilet_tickets, now)
        )
        # Django's foreign keys are deferred: checked now, or (in a test's transaction) the
        # triggers could not be switched on again with their checks pending.
        _execute("SET CONSTRAINTS ALL IMMEDIATE")
    step("counters", set_counters)
    counts["assessments"] = step("grades", lambda: load_grades(now))
    step("helper tables dropped", _drop_helpers)
    step("rebuild_rollups", rollups.rebuild)
    with indexes_off(["workflows_ticketsearch"], seconds):
        step("search index", search_sql.rebuild)
    _execute("RESET ALL")
    if vacuum:  # not inside a transaction (a test's): ANALYZE only there
        step("VACUUM ANALYZE", lambda: _execute("VACUUM ANALYZE"))
    else:
        step("ANALYZE", lambda: _execute("ANALYZE"))
    return Loaded(size, counts, seconds, months)


TICKET_TABLES = ["workflows_rectificationticket", "workflows_toiletticket"]


@contextmanager
def indexes_off(tables: list[str], seconds: dict):
    """The tables' indexes that back no constraint dropped meanwhile and built again after (a
    bulk build from sorted rows instead of one insertion per row and index); the time of the
    builds goes to `seconds["indexes"]`."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                              WHERE c.conindid = (quote_ident(i.indexname))::regclass)
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    try:
        yield
    finally:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for _name, definition in indexes:
                cursor.execute(definition)
        seconds["indexes"] = seconds.get("indexes", 0) + time.perf_counter() - started
        print(f"  {len(indexes)} indexes built again: {time.perf_counter() - started:.1f} s")


def _load_geography(size: Size, rng: random.Random) -> Geography:
    geo = geography(size, rng)
    load_geography(geo)
    return geo


def database_bytes() -> int:
    return _scalar("SELECT pg_database_size(current_database())")


def table_bytes() -> list[tuple[str, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT relname, pg_total_relation_size(oid) FROM pg_class
            WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace
            ORDER BY 2 DESC LIMIT 8
            """
        )
        return cursor.fetchall()


def middle_county() -> str:
    """The county in the middle of the province (by code)."""
    codes = list(_codes("SELECT code FROM villages_county ORDER BY code"))
    return codes[len(codes) // 2]


def smallest_county() -> str:
    return _scalar(
        """
        SELECT t.county_id FROM villages_town t JOIN villages_village v ON v.town_id = t.code
        GROUP BY 1 ORDER BY COUNT(*), 1 LIMIT 1
        """
    )


def _rows(sql: str) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _codes(sql: str):
    return [row[0] for row in _rows(sql)]


def main(argv: list[str]) -> int:
    import os

    root = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(root), str(root / "bench")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    size = SIZES[argv[0] if argv else "smoke"]
    loaded = generate(size)
    print(
        f"{size.name}: {loaded.counts} in {loaded.total_seconds:.0f} s; database "
        f"{database_bytes() / 2**30:.2f} GiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
