"""bin/serve.py (what `make demo` ends with): serves pages and runs a task cluster; Ctrl-C
stops both and leaves no worker process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    found = [int(p) for p in out.stdout.split()]
    return found + [grandchild for child in found for grandchild in children_of(child)]


def command_line(pid: int) -> str:
    """The whole command line: `ps -o args=` cuts it at 80 columns, and a clone in a long folder
    pushes "qcluster" past the cut."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""


def get(url: str, deadline: float) -> int:
    while True:
        try:
            return urllib.request.urlopen(url, timeout=2).status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_serve_runs_web_and_cluster_and_stops_both(tmp_path, how):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DEBUG="1", DATA_DIR=str(tmp_path))
    root = settings.BASE_DIR
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=root, env=env, check=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "bin/serve.py", f"127.0.0.1:{port}"],
        cwd=root,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert get(f"http://127.0.0.1:{port}/accounts/login/", time.monotonic() + 30) == 200
        processes = children_of(server.pid)
        commands = " ".join(command_line(pid) for pid in processes)
        assert "qcluster" in commands and "runserver" in commands
        if how == "ctrl-c":
            os.killpg(server.pid, signal.SIGINT)  # a terminal sends it to the whole group
        else:
            server.terminate()
        assert server.wait(timeout=40) == 0
        deadline = time.monotonic() + 10
        while any(os.path.exists(f"/proc/{pid}") for pid in processes):
            assert time.monotonic() < deadline, "a child process survived"
            time.sleep(0.2)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()  # reaped whatever happened: a leaked Popen warns in a later test
