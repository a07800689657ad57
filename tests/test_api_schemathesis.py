"""Property-based tests of the JSON API generated from its own OpenAPI document (schemathesis):
every operation of /api/v1/openapi.json is called with generated parameters and bodies — valid
ones and, where schemathesis negates the schema, invalid ones — as the county's task force and
as a town officer (personal access tokens) over a small world with real tickets. No answer may
be a 500, every status must be one the document lists, and every body must match its schema.

Bounded: API_EXAMPLES examples per operation (20 by default; the environment variable
API_EXAMPLES raises it for a longer run)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from villages.people.tokens import token_create
from workflows.tickets import services

EXAMPLES = int(os.environ.get("API_EXAMPLES", "20"))

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(params=["task_force", "town_officer"])
def caller_secret(request, task_force, huji, huji_village, inspector, deadline, settings, tmp_path):
    """A token of the county's task force, then of 胡集镇's town officer (a high rate, so that no
    call is refused for speed), and a few tickets in several states for the calls to find."""
    settings.MEDIA_ROOT = tmp_path / "media"
    draft = services.rectification_create(
        by=inspector, town=huji, village=huji_village, description="河道岸边堆放生活垃圾"
    )
    services.rectification_create(by=inspector, town=huji, description="沟渠黑臭")
    services.rectification_assign(ticket=draft, by=task_force, deadline=deadline)
    town = huji if request.param == "town_officer" else None
    _token, secret = token_create(
        by=task_force, name="schemathesis", role=request.param, town=town, rate_per_minute=6000
    )
    return secret


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Django's test client keeps the test's database connection across requests; a WSGI call
    would close it at the request's end (close_old_connections: inside the test's transaction
    the connection looks unusable), losing the test's rows on PostgreSQL."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def deadline():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.localdate() + timedelta(days=10)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    database=None,  # nothing written into the checkout
    suppress_health_check=list(HealthCheck),
)
def test_no_500_and_answers_match_the_document(case, caller_secret):
    # identity: the WSGI test transport does not undo the site's gzip (villages.middleware)
    headers = {"Authorization": f"Bearer {caller_secret}", "Accept-Encoding": "identity"}
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS)


@pytest.mark.django_db
def test_the_document_validates_as_openapi_3_1(client):
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)  # raises on any deviation from the spec
    # Every operation documents that it may refuse an unauthenticated call, with the one Error.
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}, f"{method.upper()} {path}"
