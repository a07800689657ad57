"""README § Production's systemd units are what the code expects: every manage.py command they
run exists, the watchdog's exit statuses mean what the units assume (1 tolerated, 2 restarts the
cluster through OnFailure), and every unit one names is defined there."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands

from workflows.management.commands.jobs_watchdog import EXIT_CLUSTER_STALE, EXIT_FAILED

README = Path(settings.BASE_DIR) / "README.md"
UNIT = re.compile(r"^# /etc/systemd/system/(\S+)", re.M)


def units() -> dict[str, str]:
    text = README.read_text()
    block = textwrap.dedent(re.search(r"```ini\n(.*?)```", text, re.S).group(1))
    parts = UNIT.split(block)
    return {name: body for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def directive(body: str, key: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf"^\s*{key}=(.*)$", body, re.M)]


def test_the_units_run_commands_that_exist():
    found = units()
    assert {
        "renju-web.service",
        "renju-cluster.service",
        "renju-watchdog.service",
        "renju-watchdog.timer",
        "renju-cluster-restart.service",
    } <= set(found)
    commands = get_commands()
    for name, body in found.items():
        for line in directive(body, "ExecStart"):
            if "manage.py" in line:
                command = line.split("manage.py", 1)[1].split()[0]
                assert command in commands, (name, command)


def test_the_watchdog_unit_restarts_the_cluster_only_when_it_is_stale():
    found = units()
    watchdog = found["renju-watchdog.service"]
    assert directive(watchdog, "SuccessExitStatus") == [str(EXIT_FAILED)]
    assert EXIT_CLUSTER_STALE != 0 and str(EXIT_CLUSTER_STALE) not in directive(
        watchdog, "SuccessExitStatus"
    )
    (restart,) = directive(watchdog, "OnFailure")
    assert restart in found
    assert directive(found[restart], "ExecStart") == [
        "/bin/systemctl restart renju-cluster.service"
    ]
    assert "renju-cluster.service" in found


def test_the_cluster_unit_is_killed_if_it_will_not_stop():
    cluster = units()["renju-cluster.service"]
    assert directive(cluster, "Restart") == ["always"]
    assert directive(cluster, "KillMode") == ["control-group"]
    # Past the task timeout a stop would wait for a frozen worker forever otherwise.
    assert int(directive(cluster, "TimeoutStopSec")[0]) < settings.Q_CLUSTER["timeout"]
