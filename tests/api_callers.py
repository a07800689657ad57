"""Callers of the JSON API (/api/v1/) for the tests of its routers: one named user, either as
his logged-in browser (the session) or as a personal access token made with his role and
jurisdiction (villages.people.tokens) — the same test runs both ways (the `via` fixture of the
API test modules)."""

from __future__ import annotations

import json

from django.test import Client

from villages.models import Membership
from villages.people.tokens import token_create

API = "/api/v1"
VIAS = ("token", "session")


class Caller:
    def __init__(self, client: Client, headers: dict | None = None):
        self.client = client
        self.headers = headers or {}

    def get(self, path: str, params: dict | None = None):
        return self.client.get(f"{API}{path}", params or {}, headers=self.headers)

    def post(self, path: str, data: dict | None = None, **extra):
        """A multipart POST (files as uploaded files), as a form would send it."""
        return self.client.post(f"{API}{path}", data or {}, headers=self.headers, **extra)


def caller(via: str, user, *, manager) -> Caller:
    """`user` calling the API through `via`: "session" (his browser) or "token" (a token of his
    one membership, made by `manager`, who holds people.manage)."""
    if via == "session":
        client = Client()
        client.force_login(user)
        return Caller(client)
    assert via == "token", via
    membership = Membership.objects.select_related("town", "village").get(user=user)
    _token, secret = token_create(
        by=manager,
        name=f"{user.username} system",
        role=membership.role,
        town=membership.town,
        village=membership.village,
        rate_per_minute=6000,
    )
    return Caller(Client(), {"Authorization": f"Bearer {secret}"})


def body(response) -> dict:
    return json.loads(response.content)
