"""README § API: its curl examples, run as they are written (bash and the real curl) against a
live server, with a real token for 胡集镇's town officer role and a real phone photo. Each must
succeed (`curl -f` fails on any 4xx/5xx) and do what the README says it does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.workflows.test_open311 import square
from villages.models import Role
from villages.people.tokens import token_create
from workflows.models import RectificationTicket, TicketEvent
from workflows.tickets import services

README = Path(settings.BASE_DIR) / "README.md"
PHOTO = Path(__file__).parent / "data" / "photos" / "HTC_Desire.jpg"
EXAMPLE_NUMBER = "ZG-2026-000001"  # the README's example ticket


def api_examples() -> list[str]:
    """The commands of the ```sh block of README § API, one per line (comments dropped)."""
    text = README.read_text()
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_has_examples_of_reading_and_of_an_action():
    commands = api_examples()
    assert any("/actions/" in command for command in commands)
    assert any("/open311/v2/requests.json" in command for command in commands)
    assert all(command.startswith("curl -sf ") for command in commands)


@pytest.mark.django_db(transaction=True)
def test_the_readme_examples_work(
    live_server, tmp_path, settings, task_force, huji, huji_village, inspector
):
    settings.MEDIA_ROOT = tmp_path / "media"
    draft = services.rectification_create(
        by=inspector, town=huji, village=huji_village, description="河道岸边堆放生活垃圾"
    )
    deadline = draft.created_at.date().replace(year=draft.created_at.year + 1)
    ticket = services.rectification_assign(ticket=draft, by=task_force, deadline=deadline)
    _token, secret = token_create(
        by=task_force, name="胡集镇政务平台", role=Role.TOWN_OFFICER, town=huji
    )
    shutil.copy(PHOTO, tmp_path / "after.jpg")
    # 胡集镇's outline (a 6 km square around the README's position), as the boundary import
    # stores one: Open311 places a complaint by it.
    huji.boundary = square(35.13, 116.35, 3000)
    huji.save(update_fields=["boundary"])
    environment = {"SITE": live_server.url, "TOKEN": secret, "PATH": "/usr/bin:/bin"}

    answers = []
    for command in api_examples():
        command = command.replace(EXAMPLE_NUMBER, ticket.number)
        run = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"
        answers.append(json.loads(run.stdout))

    listed, detail, submitted, forwarded = answers
    assert [row["number"] for row in listed["results"]] == [ticket.number]
    assert {action["name"] for action in detail["actions"]} >= {"submit"}
    assert submitted["state"] == "submitted"
    ticket = RectificationTicket.objects.get(pk=ticket.pk)
    assert ticket.state == "submitted"
    step = TicketEvent.objects.get(rectification=ticket, action="submit")
    (photo,) = step.photos.all()
    assert photo.original_name == "after.jpg"
    # The hotline's complaint is a draft ticket of 胡集镇, from the hotline.
    (request,) = forwarded
    hotline = RectificationTicket.objects.get(number=request["service_request_id"])
    assert (hotline.town_id, hotline.state, hotline.source_kind) == (huji.code, "draft", "hotline")
    assert hotline.description.startswith("村口坑塘漂浮垃圾")
