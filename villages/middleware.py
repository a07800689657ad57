from __future__ import annotations

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.middleware.gzip import GZipMiddleware
from django.shortcuts import render
from django.template import loader
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers

from core.errors import is_object_storage_down, is_storage_full

logger = logging.getLogger(__name__)


class ChosenLanguageMiddleware:
    """Chinese unless the user picked another language with the switcher (language cookie).

    Django's LocaleMiddleware would also follow the browser's Accept-Language, so an office PC
    or phone set up in English would show an English interface nobody in the county asked for.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.available = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.available else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        return response


class RequestSizeLimitMiddleware:
    """Refuses a request whose declared body is larger than REQUEST_MAX_BYTES with 413, before
    anything reads it: a 100 MB upload costs the server its headers, not 100 MB of disk and time.

    Django's own DATA_UPLOAD_MAX_MEMORY_SIZE leaves file parts out of its count, and the
    evidence pipeline can only judge a photo once it has been received. A body sent without a
    length (chunked) is not read by Django at all, so the declared length is the whole story.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.REQUEST_MAX_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads a malformed length as no body
        if declared > limit:
            return render(
                request,
                "413.html",
                {"limit_mb": limit // (1024 * 1024), "sent_mb": -(-declared // (1024 * 1024))},
                status=413,
            )
        return self.get_response(request)


class PrivateResponseMiddleware:
    """`Cache-Control: no-store, private` on every response to a signed-in user, unless the view
    chose its own: pages and ledgers carry households' names, phones and photos, and a shared
    office PC's browser cache or a proxy must not keep them. Static files (WhiteNoise) never get
    here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            patch_cache_control(response, no_store=True, private=True)
        return response


class ContentSecurityPolicyMiddleware:
    """The Content-Security-Policy of settings.CONTENT_SECURITY_POLICY on every response that
    does not set its own: scripts and styles only from this site's static files (no inline
    script, no inline style, no eval), no plugins, no framing, forms posting only here. Text a
    user typed that slips past escaping still cannot run."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response


class StorageFullMiddleware:
    """A full disk or database anywhere a page did not expect it: 507 with a page that says so,
    not the generic 500 (the pages that store photos keep the user's input themselves:
    workflows.evidence.services.evidence_record). The database gone away (restarting, the
    connection cut), or the photos' object storage failing (MEDIA_S3_BUCKET): 503 with
    Retry-After — in every case the request's transaction rolled back and its photo files were
    deleted, so the page can say that nothing half-written is left."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_storage_full(exception):
            logger.error("Storage full at %s", request.path, exc_info=exception)
            return _static_page("507.html", status=507)
        if isinstance(exception, OperationalError | InterfaceError):
            logger.error("Database unavailable at %s", request.path, exc_info=exception)
            return _unavailable("503.html")
        if is_object_storage_down(exception):
            logger.error("Object storage unavailable at %s", request.path, exc_info=exception)
            return _unavailable("503_storage.html")
        return None


def _unavailable(template: str) -> HttpResponse:
    response = _static_page(template, status=503)
    response["Retry-After"] = "30"
    return response


def _static_page(template: str, *, status: int) -> HttpResponse:
    # No request context: its processors may need the database that just failed.
    return HttpResponse(loader.render_to_string(template), status=status)


class CompressedTextMiddleware(GZipMiddleware):
    """gzip for what the server writes as text: pages, JSON, GeoJSON, the service worker (a
    village's 3G link: the coverage page was 150 KB, 3.7 s). Static files are compressed ahead
    by WhiteNoise; PDFs, photos and Excel files are compressed already and pass as they are.
    (BREACH: Django masks the CSRF token afresh in every response, so compressing pages that
    carry it does not leak it.)"""

    TEXT = (
        "text/",
        "application/json",
        "application/geo+json",
        "application/javascript",
        "application/manifest+json",
    )

    def process_response(self, request, response):
        content_type = response.get("Content-Type", "")
        if not content_type.startswith(self.TEXT):
            return response
        return super().process_response(request, response)
