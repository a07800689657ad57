"""What every router of the JSON API (/api/v1/, config/api.py) shares: the error body, the
errors' statuses, list filters described from the pages' own FilterSets, and cursor pages.

The API is another face of the same services and selectors as the pages: a router parses input,
calls one selector or service, and returns a schema. Errors answer like the pages
(core.errors): 400 bad input, 403 not allowed (with the reason), 404 not there or outside the
caller's jurisdiction, 409 changed meanwhile (with the current state), 429 too many requests.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from typing import Any, Generic, TypeVar

import django_filters
from django.http import QueryDict
from ninja import Schema, renderers
from pydantic import Field, create_model

from core.errors import ApplicationError

T = TypeVar("T")

PAGE_SIZE = 50
PAGE_SIZE_MAX = 200


class Error(Schema):
    """Every refusal: `detail` says why, in the caller's language; `errors` lists each bad field
    where there are several; `state` is the object's state now (409)."""

    detail: str
    errors: list[str] = []
    state: str | None = None


# The statuses every operation may answer besides its success, documented once.
ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 429: Error}
READ_ERRORS = {400: Error, 401: Error, 404: Error, 429: Error}


class Refused(ApplicationError):
    """An API refusal with its status, each bad field's message, and the object's state now."""

    def __init__(self, message, *, status: int = 400, errors=None, state: str | None = None):
        super().__init__(message)
        self.status = status
        self.errors = [str(error) for error in errors or []]
        self.state = state


def error_body(detail: str, *, errors: list[str] | None = None, state: str | None = None) -> dict:
    return {"detail": str(detail), "errors": [str(e) for e in errors or []], "state": state}


class JSONRenderer(renderers.JSONRenderer):
    """UTF-8 as it is (Chinese text half the size of \\u escapes), and <, > and & escaped as
    \\u003c… — valid JSON still, but a value sent back in an error can never become markup, were
    the answer ever shown as HTML."""

    json_dumps_params = {"ensure_ascii": False}

    def render(self, request, data, *, response_status):
        text = super().render(request, data, response_status=response_status)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --- filters ----------------------------------------------------------------------------------


def _choices(field) -> list[str]:
    return [str(value) for value, _label in field.extra.get("choices", []) if value != ""]


def _annotation(field) -> tuple[Any, dict]:
    """The query parameter a django-filter filter reads, as a type and its schema extras."""
    if isinstance(field, django_filters.OrderingFilter):
        params = [param for _field, param in field.param_map.items()]
        allowed = sorted({*params, *(f"-{param}" for param in params)})
        return str | None, {"json_schema_extra": {"enum": allowed}}
    if isinstance(field, django_filters.MultipleChoiceFilter):
        values = _choices(field)
        return list[str] | None, {"json_schema_extra": {"items": {"enum": values}}}
    if isinstance(field, django_filters.BooleanFilter):
        return bool | None, {}
    if isinstance(field, django_filters.DateFilter):
        return datetime.date | None, {}
    if isinstance(field, django_filters.ChoiceFilter) and not isinstance(
        field, django_filters.ModelChoiceFilter
    ):
        return str | None, {"json_schema_extra": {"enum": _choices(field)}}
    extra = {}
    if field.extra.get("max_length"):
        extra["max_length"] = field.extra["max_length"]
    return str | None, extra


def filter_schema(filterset_class, name: str, *, exclude: tuple[str, ...] = ()) -> type[Schema]:
    """The query parameters of a list, described from the page's FilterSet: the API filters
    exactly as the page does (same names, same choices, same checks) and documents them."""
    fields = {}
    for param, field in filterset_class.base_filters.items():
        if param in exclude:
            continue
        annotation, extra = _annotation(field)
        description = str(field.label or param)
        fields[param] = (annotation, Field(None, description=description, **extra))
    return create_model(name, __base__=Schema, **fields)


def filter_data(values) -> QueryDict:
    """The validated query parameters as the QueryDict a FilterSet reads."""
    data = QueryDict(mutable=True)
    for key, value in values.model_dump(exclude_none=True).items():
        if isinstance(value, list):
            data.setlist(key, [_text(v) for v in value])
        else:
            data[key] = _text(value)
    return data


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def form_errors(form) -> list[str]:
    """A form's (or FilterSet's) errors as "field: message" lines."""
    lines = []
    for field, errors in form.errors.items():
        for error in errors:
            lines.append(f"{field}: {error}" if field != "__all__" else str(error))
    return lines


# --- cursor pages -----------------------------------------------------------------------------


class Page(Schema, Generic[T]):
    """One page of a list; `next` is the cursor of the following page (null on the last)."""

    results: list[T]
    next: str | None = None


class CursorError(ValueError):
    pass


def _decode(cursor: str, cast) -> object:
    try:
        padded = cursor.encode("ascii") + b"=" * (-len(cursor) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
        if not text or "\x00" in text:  # PostgreSQL refuses NUL in a query
            raise ValueError(cursor)
        value = cast(text)
    except (ValueError, UnicodeError, binascii.Error):
        raise CursorError(cursor) from None
    if cast is int and value < 0:
        raise CursorError(cursor)
    return value


def _encode(value) -> str:
    return base64.urlsafe_b64encode(str(value).encode("utf-8")).decode("ascii").rstrip("=")


def cursor_page(
    queryset, *, cursor: str | None, size: int | None, key: str = "pk", cast=int, newest=True
) -> dict:
    """`size` rows after `cursor`, ordered by `key` (unique and indexed: an id newest first, or a
    division code in order): a page costs the same at row 10 and row 1,000,000, and rows added
    meanwhile never shift a page."""
    size = min(max(size or PAGE_SIZE, 1), PAGE_SIZE_MAX)
    rows = queryset.order_by(f"-{key}" if newest else key)
    if cursor:
        after = "lt" if newest else "gt"
        rows = rows.filter(**{f"{key}__{after}": _decode(cursor, cast)})
    rows = list(rows[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return {"results": rows, "next": _encode(getattr(rows[-1], key)) if more else None}


# --- request bodies from the pages' forms -----------------------------------------------------


def _field_schema(field) -> dict:
    """The JSON Schema of what a Django form field accepts, as the API documents it."""
    from django import forms

    description = {"description": str(field.label)} if field.label else {}
    if isinstance(field, forms.FileField):
        files = {"type": "array", "items": {"type": "string", "format": "binary"}}
        return files | description
    if isinstance(field, forms.ModelChoiceField):
        return {"type": "string"} | description
    if isinstance(field, forms.TypedChoiceField | forms.ChoiceField):
        values = [str(value) for value, _label in field.choices if value != ""]
        return {"type": "string", "enum": values} | description
    if isinstance(field, forms.BooleanField):
        return {"type": "boolean"} | description
    if isinstance(field, forms.IntegerField):
        schema = {"type": "integer"}
    elif isinstance(field, forms.DecimalField | forms.FloatField):
        schema = {"type": "number"}
    elif isinstance(field, forms.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, forms.DateField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(field, forms.UUIDField):
        schema = {"type": "string", "format": "uuid"}
    else:
        schema = {"type": "string"}
        if getattr(field, "max_length", None):
            schema["maxLength"] = field.max_length
    for limit, key in (("min_value", "minimum"), ("max_value", "maximum")):
        value = getattr(field, limit, None)
        if value is not None:
            schema[key] = float(value) if schema["type"] == "number" else value
    return schema | description


def form_body(form_class, *, exclude: tuple[str, ...] = (), name: str = "") -> dict:
    """`openapi_extra` documenting a page form as the operation's request body: a JSON object,
    or multipart/form-data where the form takes photos. The operation itself hands the body to
    the same form the page uses, so the API accepts and refuses exactly what the page does."""
    properties, required = {}, []
    files = False
    for field_name, field in form_class.base_fields.items():
        if field_name in exclude:
            continue
        schema = _field_schema(field)
        files = files or schema.get("items", {}).get("format") == "binary"
        properties[field_name] = schema
        if field.required:
            required.append(field_name)
    body = {"type": "object", "properties": properties, "required": required}
    if name:
        body["title"] = name
    content = {"multipart/form-data": {"schema": body}}
    if not files:
        content["application/json"] = {"schema": body}
    return {"requestBody": {"required": bool(required), "content": content}}


def body_data(request):
    """The request's body as a form reads it: (data, files). A JSON object becomes form data
    (lists stay lists; true/false/null as a form would send them); anything else is read as
    a form post (multipart or urlencoded)."""
    import json

    from django.utils.datastructures import MultiValueDict

    if request.content_type == "application/json":
        try:
            payload = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise BodyError() from None
        if not isinstance(payload, dict):
            raise BodyError()
        data = QueryDict(mutable=True)
        for key, value in payload.items():
            values = value if isinstance(value, list) else [value]
            data.setlist(key, [_form_value(v) for v in values])
        return data, MultiValueDict()
    return request.POST, request.FILES


class BodyError(ValueError):
    """The body is not a JSON object (400)."""


def _form_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json_text(value)
    return str(value)


def json_text(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
