"""Pages and ledgers with personal data are never kept by a browser cache or a proxy."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["home", "ticket_list", "toilet_list", "ticket_export"])
def test_a_signed_in_users_pages_and_ledgers_are_no_store(client, task_force, name):
    client.force_login(task_force)
    response = client.get(reverse(name))
    response.close()  # a ledger is a streamed file
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
