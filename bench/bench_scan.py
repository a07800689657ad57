"""The QR scan page and the patrol POST with 3 photos under 20 concurrent inspectors, over HTTP.

Measures p50/p95/p99 latency, throughput and errors of GET /s/<token> and of a patrol POST
(3 JPEGs of 1600×1200, ~450 KB each, camera time of now, no GPS) against floors served by the
same server behind the same middleware: a login_required view answering "ok" (routing,
middleware, session and user, as every logged-in page pays) and one receiving the same 3-photo
multipart body. A POST goes 50 m from its site, so it is accepted, answered 303 and not flagged.
The scan page's named floor is the layout-only page: base.html and nothing else, for the same
logged-in user through the same middleware (its navigation, unread counts and the user's
permissions are what every page of the site pays before it shows anything of its own); the
target is scan GET p50 ≤ 1.5× that page's p50 and ≤ 12 server CPU-ms per request (issue 19).
The upload floor takes in the same photos as the pipeline must at least: it decodes each one and
encodes it once (bench/floor_views.py), so the patrol POST's ratio is what the checks, the
thumbnails, the files and the rows cost on top of pixels any pipeline touches.

The bench's own targets for the other rows: scan GET p99 ≤ 2× the layout page's p99, ≤ 3× the
minimal view's p50 and p99, CPU ≤ 2× the layout page's; patrol POST ≤ 2× the upload floor at p50
and p99.

CPU-ms per request: the CPU time (user + system, from /proc) the gunicorn workers spent during
a kind's measured slices, divided by the requests answered in them — the server's work alone,
not the clients', which share the machine.

Server: gunicorn, 4 sync workers on 127.0.0.1, DEBUG off — README § Production's command. Sync,
not gthread: in production nginx buffers each request body, so a worker never waits on a slow
phone, and the work (templates, Pillow, queries) is CPU on 2 cores, where threads of one process
would only take turns on the GIL. Sync workers close the connection after each response, like
nginx's upstream connections by default. BENCH_SCAN_WORKERS / BENCH_SCAN_THREADS (> 1 selects
gthread) change that.

Database: a separate server process cannot see run.py's test database (in-memory on SQLite), so
the bench makes its own — a SQLite file in a scratch DATA_DIR, or with DATABASE_URL a fresh
PostgreSQL database renju_bench_scan_<pid> on that server, dropped afterwards — and a child
process with the server's environment fills it: 金乡县's divisions, 133 water sites with a year of
monthly patrols each, 20 county-wide inspectors with a session each (made server-side: logging
in over HTTP would time the password hasher). After the load it counts the Patrol rows against
the POSTs answered 303.

Load: one client thread per inspector (http.client; cookies sessionid and csrftoken, the token
field from the scan page, Origin like a browser), requests back to back. After a 1 s unmeasured
warm-up of each kind, each GET kind is measured for BENCH_SCAN_SECONDS (default 10) and each
POST kind 2.5 times as long (a POST costs ~10 GETs; p99 needs a few hundred), in 3 slices, kinds
taking turns, so that noise from elsewhere on the machine hits floors and pages alike. Latencies
are of successful requests; any other status (200 expected, 303 for a patrol) or a broken
connection is an error. The clients run on the same 2 cores as the server, so their own time is
in every figure, floors included.
"""

from __future__ import annotations

import http.client
import io
import json
import math
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from common import COUNTY, record, water_site

JINXIANG = "370828000000"  # the county the benchmarks build (金乡县)

ROOT = Path(__file__).resolve().parent.parent
INSPECTORS = 20
SITES = 133
HISTORY_MONTHS = 12
PHOTOS = 3
PHOTO_SIZE = (1600, 1200)
DISTANCE_M = 50  # from the site; the county's limit is 200 m
WORKERS = int(os.environ.get("BENCH_SCAN_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_SCAN_THREADS", "1"))
SECONDS = float(os.environ.get("BENCH_SCAN_SECONDS", "10"))  # per GET kind
POST_SECONDS = 2.5 * SECONDS
ROUNDS = 3  # each phase is run in this many slices, the five kinds taking turns
WARM_UP_SECONDS = 1.0
# 金乡县, roughly: the division list has no coordinates, so sites are scattered over this box.
COUNTY_BOX = ((34.98, 35.20), (116.13, 116.45))
BOUNDARY = "----renjuBenchScan7MA4YWxkTrZu0gW"
CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
# What the scan page aims at (README § Benchmarks): p50 within 1.5× the layout-only page's, and
# at most 12 ms of server CPU a request.
SCAN_TARGET = 1.5
SCAN_CPU_MS = 12.0
SCAN_P99_TARGET = 2.0
MINIMAL_TARGET = 3.0  # scan GET against the logged-in minimal view, p50 and p99
CPU_TARGET = 2.0  # scan GET's server CPU against the layout page's
POST_TARGET = 2.0  # patrol POST against the upload floor, p50 and p99
ERRORLIST = re.compile(rb'class="errorlist[^"]*">(.{0,300})', re.S)


def run() -> None:
    with ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="renju-bench-scan-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        env = server_env(workdir)
        database = server_database(env, cleanup)
        started = time.perf_counter()
        data = child_call("prepare", env)
        photos = [phone_jpeg(n) for n in range(PHOTOS)]
        kb = "/".join(str(len(photo) // 1024) for photo in photos)
        print(
            f"prepared {SITES} sites, {data['history']} earlier patrols, {INSPECTORS} inspectors "
            f"in {time.perf_counter() - started:.0f} s; photos {PHOTO_SIZE[0]}×{PHOTO_SIZE[1]} "
            f"JPEG, {kb} KB"
        )
        server = start_server(env, workdir)
        cleanup.callback(stop_server, server)
        inspectors = [
            Inspector(server.port, session, data["sites"], seed=n)
            for n, session in enumerate(data["sessions"])
        ]
        # The figures are CPU-bound and the machine may be shared: say how busy it was, and how
        # much of it the clients themselves took.
        busy, began, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
        phases = load(inspectors, photos, server)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        kind = f"gthread ×{THREADS}" if THREADS > 1 else "sync"
        print(
            f"gunicorn, {WORKERS} {kind} workers, DEBUG off, {database}; {INSPECTORS} client "
            f"threads on 127.0.0.1 used {cpu:.0f} CPU-s in {elapsed:.0f} s; load average "
            f"{busy:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} CPUs"
        )
        errors = report(phases, server)
        stored = check_stored(inspectors, child_call("count", env), data["history"])
        if errors or not stored:
            raise RuntimeError(f"bench_scan: {errors} errors, patrols stored OK: {stored}")


def server_database(env: dict[str, str], cleanup: ExitStack) -> str:
    if not os.environ.get("DATABASE_URL"):
        return "SQLite file"
    name = scratch_database(cleanup)
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + name)
    env["DATABASE_URL"] = url.geturl()
    return f"PostgreSQL database {name}"


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Phase:
    label: str
    latencies_ms: list[float]
    errors: int
    seconds: float
    first_error: str = ""
    server_cpu_seconds: float = 0.0  # of the gunicorn workers, while this phase ran

    @property
    def cpu_ms_per_request(self) -> float:
        done = len(self.latencies_ms) + self.errors
        return self.server_cpu_seconds * 1000 / done if done else math.nan

    def add(self, other: Phase) -> None:
        self.latencies_ms += other.latencies_ms
        self.errors += other.errors
        self.seconds += other.seconds
        self.server_cpu_seconds += other.server_cpu_seconds
        self.first_error = self.first_error or other.first_error

    def percentile(self, p: int) -> float:
        if len(self.latencies_ms) < 2:
            return math.nan
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]


def load(inspectors: list[Inspector], photos: list[bytes], server: Server) -> dict[str, Phase]:
    kinds: dict[str, tuple[Callable[[Inspector], str], float]] = {
        "floor GET": (Inspector.floor_get, SECONDS),
        "layout GET": (Inspector.layout_get, SECONDS),
        "scan GET": (Inspector.scan_get, SECONDS),
        "upload floor POST": (lambda i: i.floor_post(photos), POST_SECONDS),
        "patrol POST": (lambda i: i.patrol_post(photos), POST_SECONDS),
    }
    # Each inspector opens a scan page first, as after scanning a label: the CSRF cookie and
    # the form's token. Then every kind once unmeasured, so each worker has loaded its code.
    run_phase("csrf", inspectors, Inspector.scan_get, 0)
    for label, (action, _seconds) in kinds.items():
        run_phase(label, inspectors, action, WARM_UP_SECONDS)
    phases = {label: Phase(label, [], 0, 0.0) for label in kinds}
    for _round in range(ROUNDS):
        for label, (action, seconds) in kinds.items():
            cpu = server.cpu_seconds()
            phase = run_phase(label, inspectors, action, seconds / ROUNDS)
            phase.server_cpu_seconds = server.cpu_seconds() - cpu
            phases[label].add(phase)
    return phases


def run_phase(
    label: str, inspectors: list[Inspector], action: Callable[[Inspector], str], seconds: float
) -> Phase:
    """Every inspector sends `action` back to back (at least once) until `seconds` are over."""
    phase = Phase(label, [], 0, 0.0)
    for inspector in inspectors:
        # Fresh connections: a keep-alive one (gthread) idle since the last phase may have been
        # closed by the server, which a browser would retry but http.client reports.
        inspector.connection.close()
    lock = threading.Lock()
    start = threading.Barrier(len(inspectors) + 1)

    def loop(inspector: Inspector) -> None:
        latencies, errors = [], []
        start.wait()
        deadline = time.perf_counter() + seconds
        while True:
            began = time.perf_counter()
            try:
                error = action(inspector)
            except (OSError, http.client.HTTPException) as failure:
                inspector.connection.close()
                error = f"{type(failure).__name__}: {failure}"
            ended = time.perf_counter()
            if error:
                errors.append(error)
            else:
                latencies.append((ended - began) * 1000)
            if ended >= deadline:
                break
        with lock:
            phase.latencies_ms.extend(latencies)
            phase.errors += len(errors)
            phase.first_error = phase.first_error or (errors[0] if errors else "")

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in inspectors]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - began
    return phase


@dataclass
class Inspector:
    """One phone: its session, its CSRF cookie and token, one connection to the server."""

    port: int
    session: str
    sites: list[list]  # [token, lat, lng]
    seed: int
    csrf_cookie: str = ""
    csrf_token: str = ""
    patrol_urls: list[str] = field(default_factory=list)  # the Location of every 303

    def __post_init__(self) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.rng = random.Random(self.seed)

    def floor_get(self) -> str:
        return self.expect(200, "GET", "/bench/floor")

    def layout_get(self) -> str:
        return self.expect(200, "GET", "/bench/layout")

    def scan_get(self) -> str:
        token = self.rng.choice(self.sites)[0]
        status, content, _headers = self.send("GET", f"/s/{token}")
        form = CSRF_FIELD.search(content)
        if status != 200 or form is None:  # no form: the inspector may not patrol here
            return failure(status, f"/s/{token}", content)
        self.csrf_token = self.csrf_token or form.group(1).decode()
        return ""

    def floor_post(self, photos: list[bytes]) -> str:
        body = multipart(self.patrol_fields(self.rng.choice(self.sites)), photos)
        return self.expect(200, "POST", "/bench/floor-upload", body)

    def patrol_post(self, photos: list[bytes]) -> str:
        site = self.rng.choice(self.sites)
        path = f"/s/{site[0]}"
        body = multipart(self.patrol_fields(site), photos)
        status, content, headers = self.send("POST", path, body)
        if status != 303:
            return failure(status, path, content)
        self.patrol_urls.append(headers["Location"])
        return ""

    def patrol_fields(self, site: list) -> dict[str, str]:
        lat, lng = away(site[1], site[2], DISTANCE_M, self.rng.uniform(0, 2 * math.pi))
        return {
            "csrfmiddlewaretoken": self.csrf_token,
            "key": str(uuid.uuid4()),  # a new submission each time, as a fresh page gives
            "lat": f"{lat:.7f}",
            "lng": f"{lng:.7f}",
            "accuracy": "12",
            "result": "normal",
            "signboard": "good",
            "previous_fixed": "none",
            "note": "水面清洁，无异味",
        }

    def expect(self, expected: int, method: str, path: str, body: bytes = b"") -> str:
        status, content, _headers = self.send(method, path, body)
        return "" if status == expected else failure(status, path, content)

    def send(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes, dict]:
        cookies = f"sessionid={self.session}"
        if self.csrf_cookie:
            cookies += f"; csrftoken={self.csrf_cookie}"
        headers = {"Cookie": cookies}
        if method == "POST":
            headers |= {
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Origin": f"http://127.0.0.1:{self.port}",  # what a browser sends with a POST
            }
        self.connection.request(method, path, body=body or None, headers=headers)
        response = self.connection.getresponse()
        content = response.read()
        # Only the CSRF cookie is kept: the messages cookie of a 303 is what the patrol page
        # would show and clear, and that page is not part of the POST.
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("csrftoken="):
                self.csrf_cookie = header.split(";", 1)[0].split("=", 1)[1]
        return response.status, content, dict(response.headers)


def failure(status: int, path: str, content: bytes) -> str:
    reason = ERRORLIST.search(content)
    detail = re.sub(rb"<[^>]+>", b" ", reason.group(1)).decode(errors="replace") if reason else ""
    return f"{status} {path} {detail.strip()}"


def multipart(fields: dict[str, str], photos: list[bytes]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for n, photo in enumerate(photos, 1):
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; '
            f'filename="IMG_20250603_0941{n:02d}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        )
        parts += [head.encode(), new_file(photo), b"\r\n"]
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def new_file(jpeg: bytes) -> bytes:
    """The same picture as another file, as every shot of a phone is: the county refuses a
    photo already used as evidence (same SHA-256). A random JPEG comment (COM segment) right
    after the start marker changes the file, not the picture, and costs nothing to make."""
    note = secrets.token_hex(16).encode()
    return jpeg[:2] + b"\xff\xfe" + (len(note) + 2).to_bytes(2, "big") + note + jpeg[2:]


def away(lat: float, lng: float, metres: float, bearing: float) -> tuple[float, float]:
    """The point `metres` from (lat, lng) towards `bearing` (radians from north)."""
    per_degree = 6_371_008.8 * math.pi / 180
    return (
        lat + metres * math.cos(bearing) / per_degree,
        lng + metres * math.sin(bearing) / (per_degree * math.cos(math.radians(lat))),
    )


def phone_jpeg(seed: int) -> bytes:
    """A 1600×1200 JPEG that compresses like a photo (gradients and noise), shot just now."""
    from PIL import ExifTags, Image

    width, height = PHOTO_SIZE
    channels = []
    for i, angle in enumerate((0, 60, 120)):
        gradient = Image.linear_gradient("L").rotate(angle + 25 * seed).resize(PHOTO_SIZE)
        blotches = Image.effect_noise((width // 4, height // 4), 40 + 10 * i).resize(PHOTO_SIZE)
        grain = Image.effect_noise(PHOTO_SIZE, 12)
        channels.append(Image.blend(Image.blend(gradient, blotches, 0.5), grain, 0.25))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Xiaomi"
    exif[ExifTags.Base.Model] = "Redmi Note 12"
    now = datetime.now(ZoneInfo("Asia/Shanghai"))  # a bare EXIF time is China time
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: now.strftime("%Y:%m:%d %H:%M:%S")}
    buffer = io.BytesIO()
    Image.merge("RGB", channels).save(buffer, "JPEG", quality=88, exif=exif.tobytes())
    return buffer.getvalue()


# --- figures ----------------------------------------------------------------------------------


def report(phases: dict[str, Phase], server: Server) -> int:
    columns = ("seconds", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "CPU-ms", "errors")
    print(f"{'':<18}" + "".join(f"{column:>9}" for column in columns))
    for label, phase in phases.items():
        done = len(phase.latencies_ms)
        print(
            f"{label:<18}{phase.seconds:>9.1f}{done:>9}{done / phase.seconds:>9.1f}"
            f"{phase.percentile(50):>9.1f}{phase.percentile(95):>9.1f}"
            f"{phase.percentile(99):>9.1f}{phase.cpu_ms_per_request:>9.1f}{phase.errors:>9}"
        )
    pairs = (
        ("scan GET", "layout GET"),
        ("scan GET", "floor GET"),
        ("patrol POST", "upload floor POST"),
    )
    for page, floor in pairs:
        ratios = [phases[page].percentile(p) / phases[floor].percentile(p) for p in (50, 99)]
        cpu = phases[page].cpu_ms_per_request / phases[floor].cpu_ms_per_request
        print(f"ratio {page} / {floor}: p50 {ratios[0]:.2f}x, p99 {ratios[1]:.2f}x, CPU {cpu:.2f}x")
    errors = sum(phase.errors for phase in phases.values())
    print(f"errors: {errors} ({'OK' if errors == 0 else 'NOT OK: must be 0'})")
    for phase in phases.values():
        if phase.first_error:
            print(f"  first error of {phase.label}: {phase.first_error}")
    if errors:
        print("  server log, last lines:\n" + "".join(server.log_tail()))
    record_rows(phases, errors)
    return errors


def record_rows(phases: dict[str, Phase], errors: int) -> None:
    kind = f"gthread ×{THREADS}" if THREADS > 1 else "sync"
    setup = f"{INSPECTORS} inspectors, gunicorn {WORKERS} {kind} workers"
    pairs = (
        ("scan GET", "layout GET", "layout-only page", "", (SCAN_TARGET, SCAN_P99_TARGET)),
        ("scan GET", "floor GET", "logged-in minimal view", "", (MINIMAL_TARGET,) * 2),
        (
            "patrol POST",
            "upload floor POST",
            "upload + decode + encode",
            "; 3 photos (the floor's too)",
            (POST_TARGET,) * 2,
        ),
    )
    for page, floor, floor_name, body, targets in pairs:
        rate = len(phases[page].latencies_ms) / phases[page].seconds
        for p, target in zip((50, 99), targets, strict=True):
            record(
                benchmark=__name__,
                # Named by the floor too: the scan page has two.
                measured=f"{page} p{p}" + (", minimal" if floor == "floor GET" else ""),
                value=phases[page].percentile(p),
                unit="ms",
                floor=f"{floor_name} p{p}",
                floor_value=phases[floor].percentile(p),
                target=target,
                note=f"{setup}; {rate:.1f} req/s; {errors} errors in all{body}",
            )
    scan, layout = phases["scan GET"], phases["layout GET"]
    record(
        benchmark=__name__,
        measured="scan GET CPU per request",
        value=scan.cpu_ms_per_request,
        unit="ms",
        floor="layout-only page CPU per request",
        floor_value=layout.cpu_ms_per_request,
        target=CPU_TARGET,
        limit=SCAN_CPU_MS,
        note=f"{setup}; server CPU (gunicorn workers) only",
    )


def check_stored(inspectors: list[Inspector], stored: dict, history: int) -> bool:
    """Every 303 (warm-up included) must be one new Patrol row, each with its 3 photos."""
    urls = [url for inspector in inspectors for url in inspector.patrol_urls]
    new = stored["patrols"] - history
    same = new == len(urls) == len(set(urls)) and stored["photo_links"] == PHOTOS * new
    print(
        f"patrols stored: {new} for {len(urls)} POSTs answered 303 ({len(set(urls))} distinct "
        f"patrol pages), {stored['photos']} photos linked {stored['photo_links']} times, "
        f"{stored['flagged']} flagged: {'OK' if same else 'NOT OK: lost or duplicated'}"
    )
    return same


# --- server and database ----------------------------------------------------------------------


def server_env(workdir: Path) -> dict[str, str]:
    """Production settings on plain HTTP, everything written under `workdir`."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "MEDIA_ROOT", "STATIC_ROOT", "MEDIA_STORAGE_BACKEND"):
        env.pop(name, None)
    (workdir / "static").mkdir()  # WhiteNoise warns about a missing STATIC_ROOT
    return env | {
        "DJANGO_SETTINGS_MODULE": "bench.settings_bench",
        "DATA_DIR": str(workdir),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Loopback HTTP: no redirect to HTTPS, cookies without the Secure flag.
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
    }


def scratch_database(cleanup: ExitStack) -> str:
    """A fresh PostgreSQL database beside run.py's test database, dropped at the end."""
    from django.db import connection

    name = f"renju_bench_scan_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    cleanup.callback(drop_database, name)
    return name


def drop_database(name: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    def log_tail(self, lines: int = 20) -> list[str]:
        return self.log.read_text(errors="replace").splitlines(keepends=True)[-lines:]

    def cpu_seconds(self) -> float:
        """User + system CPU of the gunicorn master and its workers so far (Linux /proc)."""
        return sum(_cpu_seconds(pid) for pid in (self.process.pid, *_children(self.process.pid)))


def _children(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == parent:  # fields after "(comm)": state, ppid, …
            pids.append(int(stat.parent.name))
    return pids


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of proc(5), 12 and 13 after "(comm)".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(env: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    log = workdir / "gunicorn.log"
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(WORKERS),
        "--worker-class", "gthread" if THREADS > 1 else "sync",
        "--threads", str(THREADS),
        "--timeout", "60",
        *no_control_socket(),
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=output)
    server = Server(process, port, log)
    try:
        wait_until_up(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def no_control_socket() -> list[str]:
    """Recent gunicorns open a control socket in ~/.gunicorn by default; the bench needs none."""
    from gunicorn.config import KNOWN_SETTINGS

    known = any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)
    return ["--no-control-socket"] if known else []


def wait_until_up(server: Server, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + "".join(server.log_tail()))
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            connection.request("GET", "/bench/floor")
            connection.getresponse().read()  # 302 to the login page: the server is up
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer:\n" + "".join(server.log_tail()))


def stop_server(server: Server) -> None:
    server.process.terminate()  # gunicorn's graceful stop
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_call(task: str, env: dict[str, str], script: str = __file__) -> dict:
    command = [sys.executable, script, task]
    done = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{Path(script).stem} {task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- inside the child process: the server's database -----------------------------------------


def prepare() -> dict:
    from django.conf import settings
    from django.core.management import call_command

    from inspections.models import PatrolPolicy

    call_command("migrate", interactive=False, verbosity=0)
    divisions = settings.BASE_DIR / "villages/fixtures/jinxiang/divisions_2023.csv"
    call_command("import_divisions", str(divisions), verbosity=0, stdout=io.StringIO())
    rng = random.Random(7)
    sites = create_sites(rng)
    inspectors = create_inspectors()
    history = create_history(rng, sites, inspectors)
    PatrolPolicy.current(JINXIANG)  # the county's defaults: 200 m, photos required
    return {
        "sites": [[site.token, site.lat, site.lng] for site in sites],
        "sessions": [session_for(user) for user in inspectors],
        "history": history,
    }


def create_sites(rng: random.Random) -> list:
    from inspections.models import SiteKind, SiteState, WaterSite
    from villages.models import Village

    villages = list(Village.objects.administrative().values_list("code", "town_id", "name"))
    states = [SiteState.MAINTAINED] * 4 + [SiteState.GOVERNING]
    sites = []
    for n in range(1, SITES + 1):
        village, town, name = rng.choice(villages)
        sites.append(
            water_site(
                code=f"JX-HC-{n:04d}",
                name=f"{name}坑塘{n}",
                town_id=town,
                village_id=village,
                kind=rng.choice([SiteKind.POND, SiteKind.POND, SiteKind.DITCH, SiteKind.RIVER]),
                area_m2=rng.randint(300, 20_000),
                lat=rng.uniform(*COUNTY_BOX[0]),
                lng=rng.uniform(*COUNTY_BOX[1]),
                state=rng.choice(states),
            )
        )
    return WaterSite.objects.bulk_create(sites)


def create_inspectors() -> list:
    from django.contrib.auth import get_user_model

    from villages.models import Membership, Role

    User = get_user_model()
    users = [
        # No password: sessions are made server-side, and hashing 20 would take seconds.
        User.objects.create_user(f"inspector{n:02d}", password=None, first_name=f"巡查员{n:02d}")
        for n in range(1, INSPECTORS + 1)
    ]
    Membership.objects.bulk_create(
        Membership(user=user, role=Role.INSPECTOR, county_id=COUNTY) for user in users
    )
    return users


def create_history(rng: random.Random, sites: list, inspectors: list) -> int:
    """A patrol a month for a year at every site, so each scan page lists its last five."""
    from datetime import time as clock
    from datetime import timedelta

    from django.utils import timezone

    from inspections.models import Patrol, PatrolResult

    today = timezone.localdate()
    patrols = []
    for site in sites:
        for month in range(1, HISTORY_MONTHS + 1):
            day = today - timedelta(days=30 * month + rng.randint(0, 9))
            patrols.append(
                Patrol(
                    site=site,
                    inspector=rng.choice(inspectors),
                    key=uuid.uuid4(),
                    created_at=timezone.make_aware(datetime.combine(day, clock(9, month))),
                    local_date=day,
                    lat=site.lat,
                    lng=site.lng,
                    accuracy_m=10,
                    distance_m=rng.uniform(5, 80),
                    result=PatrolResult.NORMAL,
                )
            )
    return len(Patrol.objects.bulk_create(patrols))


def session_for(user) -> str:
    """What django.contrib.auth.login stores, without a request."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = user._meta.pk.value_to_string(user)
    # The backend that authenticates passwords (axes' comes first and only guards the login).
    store[BACKEND_SESSION_KEY] = next(
        path
        for path in settings.AUTHENTICATION_BACKENDS
        if hasattr(import_string(path), "get_user")
    )
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def count() -> dict:
    from inspections.models import Patrol
    from workflows.models import EvidencePhoto

    return {
        "patrols": Patrol.objects.count(),
        "flagged": Patrol.objects.filter(flagged=True).count(),
        "photos": EvidencePhoto.objects.count(),
        "photo_links": Patrol.photos.through.objects.count(),
    }


def child(task: str, prepare: Callable[[], dict] = prepare) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    print(json.dumps(prepare() if task == "prepare" else count()))


if __name__ == "__main__":
    child(sys.argv[1])
