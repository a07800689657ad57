"""Login throttling: five wrong passwords for one user name from one address lock that pair for
a while (429, a clear message, even with the right password); others are not affected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests.factories import PASSWORD, make_user

LOGIN = reverse("login")


@pytest.fixture
def user(db):
    return make_user("zhang")


def attempt(client, username, password, ip="10.0.0.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_failures_lock_the_user_name_from_that_address(client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "zhang", "wrong").status_code == 200  # the form again
    locked = attempt(client, "zhang", "wrong")
    assert locked.status_code == 429
    assert "15" in locked.content.decode()  # says for how long
    right = attempt(client, "zhang", PASSWORD)
    assert right.status_code == 429 and "_auth_user_id" not in client.session


def test_the_lock_is_per_user_name_and_address(client, user):
    other = make_user("li")
    for _ in range(5):
        attempt(client, "zhang", "wrong")
    assert attempt(client, "zhang", PASSWORD, ip="10.0.0.8").status_code == 302
    client.logout()
    assert attempt(client, other.username, PASSWORD).status_code == 302


def test_a_correct_login_resets_the_count(client, user):
    for _ in range(4):
        attempt(client, "zhang", "wrong")
    assert attempt(client, "zhang", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert attempt(client, "zhang", "wrong").status_code == 200


def test_the_lock_expires(client, user):
    for _ in range(5):
        attempt(client, "zhang", "wrong")
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert attempt(client, "zhang", PASSWORD).status_code == 302
