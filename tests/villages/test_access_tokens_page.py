"""Access tokens on the people page (issue 21; villages/people/tokens.py): made by whoever manages
people, the secret shown once in the answer to the POST that made it and never again, the token
acting on the API (/api/v1/) with its own role and jurisdiction only, revoked at once, refused
once expired, audited, limited to its rate per minute (429 with Retry-After)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.errors import Forbidden
from tests.factories import HUJI_CODE, JISHU_CODE, make_user, membership
from villages import access
from villages.access import Role
from villages.models import AccessToken, Membership, MembershipChange
from villages.people import api_auth, tokens

pytestmark = pytest.mark.django_db

User = get_user_model()
SHOWN_SECRET = re.compile(r'id="token-secret">(rjt_[A-Za-z0-9_-]{43})<')
ANY_SECRET = re.compile(r"rjt_[A-Za-z0-9_-]{20,}")
TOWNS = "/api/v1/towns"


def form_key(client) -> str:
    """The key of a freshly rendered form, as the page gives it."""
    return str(client.get(reverse("token_list")).context["form"].initial["key"])


def make_token(client, by, **fields):
    client.force_login(by)
    data = {
        "name": "12345热线平台",
        "role": Role.TOWN_OFFICER,
        "town": HUJI_CODE,
        "days": "90",
        "rate_per_minute": "",
        "key": form_key(client),
    }
    return client.post(reverse("token_list"), data | fields)


def shown_secret(response) -> str | None:
    match = SHOWN_SECRET.search(response.content.decode())
    return match[1] if match else None


def call(secret: str, path: str = TOWNS):
    """The API as another system calls it: no session, the token in the header."""
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {secret}")


def revoke(client, token, **data):
    return client.post(reverse("token_revoke", args=[token.pk]), {"confirm": "yes"} | data)


def page(client) -> str:
    response = client.get(reverse("token_list"))
    assert response.status_code == 200
    return response.content.decode()


def row(client, token) -> str:
    """The token's row of the list (its <tr id="token-…">)."""
    html = page(client)
    start = html.index(f'id="token-{token.pk}"')
    return html[start : html.index("</tr>", start)]


def new_token(by, **fields) -> tuple[AccessToken, str]:
    kwargs = {"name": "数据上报", "role": Role.TOWN_OFFICER} | fields
    return tokens.token_create(by=by, **kwargs)


# --- made, shown once, used ----------------------------------------------------------------------


def test_the_secret_is_shown_once_and_works_on_the_towns_jurisdiction_only(
    client, task_force, huji, jishu
):
    response = make_token(client, task_force)

    assert response.status_code == 201
    secret = shown_secret(response)
    assert secret, response.content.decode()[:2000]
    assert "no-store" in response["Cache-Control"]
    assert "不会再显示" in response.content.decode()
    assert 'data-copy="token-secret"' in response.content.decode()
    token = AccessToken.objects.get()
    assert token.name == "12345热线平台"
    assert token.rate_per_minute == settings.API_TOKEN_RATE_PER_MINUTE
    assert timedelta(days=89, hours=23) < token.expires_at - timezone.now() <= timedelta(days=90)
    assert [(m.role, m.town_id) for m in token.user.memberships.all()] == [
        (Role.TOWN_OFFICER, HUJI_CODE)
    ]

    # Never again: not on the list, not in the session, not in the database in clear.
    assert secret not in page(client)
    assert token.prefix in page(client) and secret.startswith(token.prefix)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in s.session_data for s in Session.objects.all())
    assert not any(secret in str(value) for value in AccessToken.objects.values().get().values())

    towns = call(secret)
    assert towns.status_code == 200
    assert [town["code"] for town in towns.json()] == [HUJI_CODE]
    assert call(secret, f"{TOWNS}/{HUJI_CODE}").status_code == 200
    assert call(secret, f"{TOWNS}/{JISHU_CODE}").status_code == 404
    assert "never" not in row(client, token) and "从未" not in row(client, token)


def test_a_reload_of_the_secrets_page_makes_no_second_token_and_shows_nothing(
    client, task_force, huji
):
    client.force_login(task_force)
    data = {
        "name": "城市数据平台",
        "role": Role.INSPECTOR,
        "town": HUJI_CODE,
        "days": "30",
        "rate_per_minute": "60",
        "key": form_key(client),
    }
    first = client.post(reverse("token_list"), data)
    assert first.status_code == 201 and shown_secret(first)

    again = client.post(reverse("token_list"), data)  # the browser's "send the form again?"

    assert again.status_code == 409
    assert ANY_SECRET.search(again.content.decode()) is None
    assert "已经提交" in again.content.decode()
    assert AccessToken.objects.count() == 1
    # A form of its own (a new key) makes a new token.
    assert client.post(reverse("token_list"), data | {"key": form_key(client)}).status_code == 201
    assert AccessToken.objects.count() == 2


def test_a_revoked_token_stops_at_once_and_its_row_says_who_and_when(client, task_force, huji):
    secret = shown_secret(make_token(client, task_force))
    token = AccessToken.objects.get()
    assert call(secret).status_code == 200
    assert "撤销" in row(client, token)

    unconfirmed = revoke(client, token, confirm="")
    assert unconfirmed.status_code == 400
    assert "勾选" in unconfirmed.content.decode()
    assert call(secret).status_code == 200

    response = revoke(client, token)

    assert response.status_code == 303 and response["Location"] == reverse("token_list")
    refused = call(secret)
    assert refused.status_code == 401
    assert set(refused.json()) == {"detail", "errors", "state"} and refused.json()["detail"]
    token.refresh_from_db()
    assert token.revoked_by == task_force and token.revoked_at is not None
    shown = row(client, token)
    assert "已撤销" in shown
    assert task_force.username in shown
    assert timezone.localtime(token.revoked_at).strftime("%Y-%m-%d %H:%M") in shown
    assert 'name="confirm"' not in shown  # nothing left to revoke
    assert revoke(client, token).status_code == 303  # a second revoke changes nothing
    token.refresh_from_db()
    assert token.revoked_by == task_force


def test_an_expired_token_is_refused_and_listed_as_expired(client, task_force, huji):
    token, secret = new_token(task_force, town=huji)
    assert call(secret).status_code == 200
    AccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert call(secret).status_code == 401
    client.force_login(task_force)
    shown = row(client, token)
    assert "已过期" in shown and "有效" not in shown
    assert 'name="confirm"' not in shown


def test_a_valid_token_is_listed_as_valid_with_its_role_and_maker(client, task_force, huji):
    village = huji.villages.administrative().order_by("code").first()
    token, _secret = new_token(task_force, role=Role.VILLAGE_ADMIN, village=village)
    client.force_login(task_force)
    shown = row(client, token)
    assert "有效" in shown and "从未" in shown  # never used yet
    assert f"{huji.name} {village.name}" in shown and "村管员" in shown
    assert task_force.username in shown and f"{token.prefix}…" in shown
    assert "数据上报" in page(client)


def test_making_and_revoking_are_audited_as_the_tokens(client, task_force, huji):
    make_token(client, task_force)
    token = AccessToken.objects.get()
    revoke(client, token)

    changes = MembershipChange.objects.filter(user=token.user).order_by("pk")
    assert [(c.action, c.via, c.actor) for c in changes] == [
        (MembershipChange.Action.CREATED, "token", task_force),
        (MembershipChange.Action.DEACTIVATED, "token", task_force),
    ]
    created = changes[0].after
    assert created["active"] is True
    assert [entry["role"] for entry in created["roles"]] == [Role.TOWN_OFFICER]
    assert changes[1].before == {"active": True} and changes[1].after == {"active": False}


def test_a_tokens_account_is_not_a_person_of_the_people_list(client, task_force, huji):
    token, _secret = new_token(task_force, town=huji)
    client.force_login(task_force)
    assert token.user.username not in client.get(reverse("person_list")).content.decode()
    assert client.get(reverse("person_detail", args=[token.user.pk])).status_code == 404
    assert reverse("token_list") in client.get(reverse("person_list")).content.decode()


# --- who may -------------------------------------------------------------------------------------


def test_a_town_officer_cannot_open_the_page_nor_make_or_revoke(
    client, task_force, hj_officer, huji
):
    token, secret = new_token(task_force, town=huji)
    client.force_login(hj_officer)
    before = AccessToken.objects.count(), User.objects.count(), MembershipChange.objects.count()

    assert client.get(reverse("token_list")).status_code == 403
    made = client.post(
        reverse("token_list"),
        {"name": "越权", "role": Role.TOWN_OFFICER, "town": HUJI_CODE, "days": "90"},
    )
    assert made.status_code == 403
    assert revoke(client, token).status_code == 403

    assert (AccessToken.objects.count(), User.objects.count()) == before[:2]
    assert MembershipChange.objects.count() == before[2]
    assert call(secret).status_code == 200
    assert reverse("token_list") not in client.get(reverse("home")).content.decode()


def test_a_token_outside_the_managers_jurisdiction_is_404(
    monkeypatch, client, task_force, hj_officer, huji, jishu
):
    """Were town officers given people.manage in their town, they would see and revoke their
    town's tokens only, and never make one above their rank."""
    theirs, their_secret = new_token(task_force, town=jishu, name="鸡黍镇的系统")
    ours, _secret = new_token(task_force, town=huji, name="胡集镇的系统")
    monkeypatch.setitem(
        access.PERMISSIONS,
        "people.manage",
        access.Permission("people.manage", (Role.TOWN_OFFICER,)),
    )
    client.force_login(hj_officer)

    html = page(client)
    assert "胡集镇的系统" in html and "鸡黍镇的系统" not in html
    assert revoke(client, theirs).status_code == 404
    assert call(their_secret).status_code == 200
    assert revoke(client, ours).status_code == 303

    above = make_token(client, hj_officer, role=Role.TASK_FORCE, town="")
    assert above.status_code == 400
    elsewhere = make_token(client, hj_officer, town=JISHU_CODE)
    assert elsewhere.status_code == 400
    assert AccessToken.objects.count() == 2


def test_the_task_force_cannot_give_a_role_above_its_own(monkeypatch, client, task_force, huji):
    """The task force holds the highest rank; were a role ranked above it, its form would not
    offer that role and the service would refuse it."""
    monkeypatch.setitem(access.ROLE_RANK, Role.INSPECTOR, access.ROLE_RANK[Role.TASK_FORCE] + 1)
    client.force_login(task_force)
    offered = [
        value
        for value, _label in client.get(reverse("token_list"))
        .context["form"]
        .fields["role"]
        .choices
    ]
    assert Role.INSPECTOR not in offered and Role.TASK_FORCE in offered

    response = make_token(client, task_force, role=Role.INSPECTOR, town="")

    assert response.status_code == 400
    assert "role" in response.context["form"].errors
    with pytest.raises(Forbidden):
        new_token(task_force, role=Role.INSPECTOR)
    assert not AccessToken.objects.exists()
    assert not MembershipChange.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "名" * 81}, "name"),
        ({"days": "7"}, "days"),
        ({"rate_per_minute": "0"}, "rate_per_minute"),
        ({"rate_per_minute": str(settings.API_TOKEN_RATE_MAX + 1)}, "rate_per_minute"),
        ({"rate_per_minute": "快"}, "rate_per_minute"),
        ({"role": "superuser"}, "role"),
        ({"town": "", "role": Role.TOWN_OFFICER}, None),  # a town officer needs his town
        ({"role": Role.TASK_FORCE}, None),  # the task force is county-wide: no town
    ],
)
def test_bad_input_is_a_400_with_the_forms_message_and_nothing_stored(
    client, task_force, huji, fields, field
):
    users = User.objects.count()

    response = make_token(client, task_force, **fields)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert (field in errors) if field else errors.get("__all__"), errors
    html = response.content.decode()
    assert 'class="error"' in html or 'class="alert error"' in html
    assert ANY_SECRET.search(html) is None
    assert not AccessToken.objects.exists()
    assert User.objects.count() == users


def test_the_form_offers_the_lifetimes_and_the_default_rate(client, task_force):
    client.force_login(task_force)
    form = client.get(reverse("token_list")).context["form"]
    assert [days for days, _label in form.fields["days"].choices] == list(tokens.LIFETIMES)
    assert form.fields["days"].initial == 90
    assert form.fields["rate_per_minute"].initial == settings.API_TOKEN_RATE_PER_MINUTE
    assert access.grantable_roles(task_force) == [
        value for value, _label in form.fields["role"].choices if value
    ]


# --- the rate ------------------------------------------------------------------------------------


def test_the_fourth_call_in_a_minute_of_a_token_of_three_is_a_429(monkeypatch, task_force, huji):
    """A frozen clock 15.2 s into a minute: the count does not depend on when the test runs."""
    now = [1_800_000_015.2]  # 15.2 s past a minute boundary (1_800_000_000 = 30_000_000 × 60)
    monkeypatch.setattr(api_auth, "time", SimpleNamespace(time=lambda: now[0]))
    _token, secret = new_token(task_force, town=huji, rate_per_minute=3)
    _other, other_secret = new_token(task_force, town=huji, name="另一个系统", rate_per_minute=3)

    assert [call(secret).status_code for _i in range(3)] == [200, 200, 200]
    refused = call(secret)

    assert refused.status_code == 429
    assert refused["Retry-After"] == "45"  # ceil(60 − 15.2)
    body = refused.json()
    assert set(body) == {"detail", "errors", "state"} and body["detail"]
    assert call(other_secret).status_code == 200  # each token has its own count
    now[0] += 44  # 59.2 s: still the same minute
    assert call(secret).status_code == 429
    assert int(call(secret)["Retry-After"]) == 1
    now[0] += 1  # 0.2 s into the next minute
    assert call(secret).status_code == 200


# --- the list's queries --------------------------------------------------------------------------


def _count_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("token_list"))
    assert response.status_code == 200
    return len(queries)


def test_the_list_query_count_does_not_grow_with_the_rows(client, task_force, huji):
    village = huji.villages.administrative().order_by("code").first()
    chief = make_user("chief", membership(Role.TASK_FORCE), first_name="王主任")

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            by = chief if i % 2 else task_force
            token, _secret = new_token(
                by, name=f"系统{i}", role=Role.VILLAGE_ADMIN, village=village
            )
            if i % 3 == 0:
                tokens.token_revoke(by=task_force, token=token)

    client.force_login(task_force)
    add(3, 0)
    few = _count_queries(client)
    add(20, 100)
    many = _count_queries(client)
    assert many == few, (few, many)
    # session, user, memberships (scope), the form's villages and towns, count, rows, their
    # memberships, the menu's notifications and unacknowledged city bulletins: nothing grows
    # with the rows.
    assert many <= 10, many
    assert Membership.objects.filter(user__access_token__isnull=False).count() == 23
