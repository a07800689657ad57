"""The web server and a django-q2 cluster together, for the demo and development.

Ctrl-C or SIGTERM stops both; each is waited for (killed after 20 s), so no worker is left
behind. Usage: python bin/serve.py [HOST:PORT]
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(address: str) -> int:
    manage = [sys.executable, str(ROOT / "manage.py")]
    children = [
        subprocess.Popen([*manage, "qcluster"], cwd=ROOT),
        subprocess.Popen([*manage, "runserver", "--noreload", address], cwd=ROOT),
    ]
    print(f"Serving on http://{address}/  (Ctrl-C stops the web server and the task cluster)")
    signal.signal(signal.SIGTERM, _terminated)
    # A shell that starts us in the background leaves SIGINT ignored, and Python then installs
    # no KeyboardInterrupt handler: ask for one, so Ctrl-C works however we were started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group: the children are stopping already. A SIGTERM
        # on top would cut qcluster's graceful stop short and orphan its worker processes.
        _wait(children, timeout=10)
    except Terminated:
        pass
    finally:
        _stop(children)
    return 0


class Terminated(Exception):
    pass


def _terminated(signum, frame):
    raise Terminated


def _wait(children: list[subprocess.Popen], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))


def _stop(children: list[subprocess.Popen]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan a child
    for child in children:
        if child.poll() is None:
            child.terminate()  # qcluster stops its workers gracefully on SIGTERM
    _wait(children, timeout=20)
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8000"))
