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


# --- behind nginx: the headers exactly as README's nginx block writes them -------------------
# proxy_set_header X-Real-IP $remote_addr;
# proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;   (client's value + ", " + addr)


def through_nginx(client, username, password, *, address, claimed=""):
    """A request from `address` that wrote `claimed` into its own X-Forwarded-For."""
    forwarded = f"{claimed}, {address}" if claimed else address
    return client.post(
        LOGIN,
        {"username": username, "password": password},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_REAL_IP=address,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.fixture
def behind_nginx(settings):
    settings.BEHIND_TLS_PROXY = True


def test_a_fresh_forged_address_per_try_is_still_locked_out(client, user, behind_nginx):
    for n in range(20):
        through_nginx(client, "zhang", "wrong", address="203.0.113.9", claimed=f"10.9.{n}.1")

    right = through_nginx(client, "zhang", PASSWORD, address="203.0.113.9", claimed="10.9.99.1")

    assert right.status_code == 429 and "_auth_user_id" not in client.session
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


def test_an_attacker_elsewhere_does_not_lock_the_real_user_out(client, user, behind_nginx):
    for _ in range(10):
        through_nginx(client, "zhang", "wrong", address="198.51.100.66")

    real = through_nginx(client, "zhang", PASSWORD, address="203.0.113.20")

    assert real.status_code == 302 and "_auth_user_id" in client.session


def test_without_x_real_ip_the_address_nginx_appended_counts(client, user, behind_nginx):
    for n in range(5):
        client.post(
            LOGIN,
            {"username": "zhang", "password": "wrong"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"10.9.{n}.1, 203.0.113.9",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


def test_headers_are_ignored_without_a_declared_proxy(client, user):
    for n in range(5):
        through_nginx(client, "zhang", "wrong", address=f"203.0.113.{n}")
    # Not behind nginx: X-Real-IP is anybody's to write; the socket's address counts.
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}
