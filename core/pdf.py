"""The one way this project makes a PDF: a Django template rendered by WeasyPrint.

QR labels, overdue notices and bulletins all come through `render_pdf`, so they share the print
stylesheet (static/css/print.css: A4, a CJK font) and the rules below.

Chinese needs a CJK font that fontconfig can find (fonts-wqy-microhei, or fonts-noto-cjk):
without one WeasyPrint prints every Chinese glyph as a box and raises nothing. Embedding only the
glyphs used needs libharfbuzz-subset (5–30× faster, far smaller files). bin/system-packages
installs both, and fonts-noto-cjk for the official documents' serif (print.css `.official`).
That serif costs each PDF about 0.1–0.15 s and 140 KB per weight used: WeasyPrint subsets with
glyph ids retained, so a CJK font's ~65,000 glyph metrics stay in the file even though their
outlines are dropped.

WeasyPrint fetches what the HTML links to (stylesheets, images) itself. It must never do that
over HTTP: the server would call itself, through a proxy or a host name that may not resolve
from inside, and wait for a worker while holding one. So relative links resolve against a base
under the reserved `.invalid` domain, and `LocalFetcher` answers those URLs from disk: static
files through the staticfiles finders (or the collected, hashed copy in production), and the
files of views that serve a stored file (evidence photos, /photos/<pk>/display.jpg) through
the default storage: such a view names the file behind its URL with a `stored_name(**kwargs)`
attribute (core may not import the apps). Anything else (http:, file:, other pages, /media/…)
is refused, so text typed by a user into a document cannot make the server read its own files
or call out. A refused or missing resource is logged by WeasyPrint (logger "weasyprint") and
left out; the PDF is still made.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import caches
from django.core.files.storage import default_storage
from django.template.loader import get_template, render_to_string
from django.urls import Resolver404, resolve
from django.utils import translation
from PIL import Image, ImageFile
from weasyprint import HTML
from weasyprint import __version__ as WEASYPRINT_VERSION
from weasyprint.urls import URLFetcher, URLFetcherResponse

# Importing WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES = True (weasyprint/
# images.py), which would make the evidence pipeline accept a half-uploaded photo as whole,
# padded grey. Our PDFs only embed photos that pipeline already verified, so nothing is lost
# by turning it back off — right here, at import, before any request can run.
ImageFile.LOAD_TRUNCATED_IMAGES = False

if TYPE_CHECKING:
    from django.http import HttpRequest

# Never resolves (RFC 2606), so even a fetch this module forgot to intercept cannot go out.
BASE_URL = "https://pdf.invalid/"


def render_pdf(*, template_name: str, context: dict, request: HttpRequest | None = None) -> bytes:
    """`template_name` rendered with `context` (and the request's context processors), as PDF.

    The template is a standalone HTML document that links `{% static "css/print.css" %}`."""
    html = render_to_string(template_name, context, request=request)
    return HTML(string=html, base_url=BASE_URL, url_fetcher=LocalFetcher()).write_pdf()


# The stylesheet every PDF template links; a deploy that changes it changes every cache key.
PRINT_STYLESHEET = "css/print.css"


def cached_pdf(
    *,
    template_name: str,
    key: Iterable,
    context: Callable[[], dict],
    request: HttpRequest | None = None,
) -> bytes:
    """render_pdf, kept in the "documents" cache (settings.CACHES) for documents that take
    seconds to make and are asked for again unchanged: a label sheet, a published round's grades.

    `key` must name everything the document shows that can change — the caller knows: the
    sites' ids and versions of a label sheet, a published round (which cannot change) and the
    user's jurisdiction. The key adds the language and the versions of its catalogue, of the
    template (which must include no other), of the print stylesheet and of WeasyPrint, so a
    deploy that changes the wording or the layout never serves an old document.
    `context` is called only to make the document (its QR codes are a second of the sheet's
    cost). A changed input gives a new key; the old entry is never read again and ages out."""
    cache = caches["documents"]
    cache_key = pdf_cache_key(template_name, key)
    pdf = cache.get(cache_key)
    if pdf is None:
        pdf = render_pdf(template_name=template_name, context=context(), request=request)
        cache.set(cache_key, pdf)
    return pdf


def pdf_cache_key(template_name: str, key: Iterable) -> str:
    language = translation.get_language()
    parts = (
        template_name,
        _version_of(get_template(template_name).origin.name),
        _version_of(_static_path(PRINT_STYLESHEET)),
        WEASYPRINT_VERSION,
        language,
        [_version_of(path) for path in _catalogues(language)],
        *key,
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return f"pdf:{template_name}:{digest}"


def _version_of(path) -> tuple[int, int]:
    # Modification time and size: a stat, not a read, on every request.
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


def _catalogues(language: str | None) -> list[Path]:
    """The project's compiled translations of `language` (none for the msgids' English)."""
    if not language:
        return []
    name = Path(translation.to_locale(language)) / "LC_MESSAGES" / "django.mo"
    return [
        Path(folder) / name for folder in settings.LOCALE_PATHS if (Path(folder) / name).exists()
    ]


class LocalFetcher(URLFetcher):
    """Serves /static/… and stored files (photos, as the templates link them) from disk or
    storage; refuses the rest.

    A subclass rather than a plain function: WeasyPrint reads the fetcher's error settings."""

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)  # inline images: nothing is fetched
        static_name = _name_under(url, settings.STATIC_URL)
        if static_name is not None:
            return _response(url, open(_static_path(static_name), "rb"))
        stored_name = _stored_name(url)
        if stored_name:
            # open(), not path(): also works when media live in object storage.
            with default_storage.open(stored_name, "rb") as stored:
                return _response(url, _print_size(stored))
        raise ValueError(f"PDFs only use static and media files, not {url}")


def _stored_name(url: str) -> str | None:
    """The storage name of the file a view serves at `url` (one of ours, under BASE_URL), if
    that view says (its `stored_name` attribute); None for any other URL."""
    path = _name_under(url, "/")
    if path is None:
        return None
    try:
        match = resolve("/" + path)
    except Resolver404:
        return None
    stored_name = getattr(match.func, "stored_name", None)
    return stored_name(**match.kwargs) if stored_name else None


def _name_under(url: str, prefix: str) -> str | None:
    """The file name in `url` below `prefix` (STATIC_URL, or "/" for any path), or None."""
    root = urljoin(BASE_URL, prefix)
    if not url.startswith(root):
        return None
    return unquote(url[len(root) :].split("?")[0].split("#")[0])


def _static_path(name: str) -> str:
    # The source tree first (development, tests: no collectstatic needed); then the collected
    # copy, which is where a hashed name such as css/print.1a2b3c.css exists in production.
    found = finders.find(name)
    if found:
        return found
    if staticfiles_storage.exists(name):
        return staticfiles_storage.path(name)
    raise FileNotFoundError(f"static file not found: {name}")


# Photos print at most 70 mm wide (a bulletin's 60 × 45 mm, a follow-up's 70 × 52 mm): 600 px is
# 220–250 dpi there. The pipeline stores a print copy of this size (PDF templates link
# photo.print_url), which passes through untouched; a photo stored before print copies existed
# is served its 1600 px display copy instead, shrunk here to the same size. WeasyPrint embeds an
# image as it gets it: 146 items × 2 display copies made a 143 MB PDF.
PRINT_MAX_PX = 600
PRINT_JPEG_QUALITY = 75


def _print_size(stored) -> io.BytesIO:
    data = stored.read()
    try:
        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) <= PRINT_MAX_PX or image.format != "JPEG":
                return io.BytesIO(data)
            box = _fitted(image.size, PRINT_MAX_PX)
            # The box of the printed size, with the photo's own proportions: libjpeg then
            # decodes at the smallest 1/2, 1/4 or 1/8 scale that still covers it (1600 × 1200 →
            # 800 × 600). A square (800, 800) box kept a 4:3 photo at full scale (1200 < 1600).
            image.draft("RGB", box)
            image = image.resize(box, Image.Resampling.BOX) if image.size != box else image
            smaller = io.BytesIO()
            image.save(smaller, "JPEG", quality=PRINT_JPEG_QUALITY)
    except (OSError, ValueError):
        return io.BytesIO(data)  # not ours to judge here: WeasyPrint logs and skips it
    smaller.seek(0)
    return smaller


def _fitted(size: tuple[int, int], longest: int) -> tuple[int, int]:
    width, height = size
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _response(url: str, file) -> URLFetcherResponse:
    # WeasyPrint ignores a stylesheet whose type is not text/css; it closes the file after use.
    content_type = mimetypes.guess_type(url.split("?")[0])[0] or "application/octet-stream"
    return URLFetcherResponse(url, body=file, headers={"Content-Type": content_type})
