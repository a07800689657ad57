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

import io
import mimetypes
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from PIL import Image, ImageFile
from weasyprint import HTML
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


# Photos print at most ~8 cm wide: 800 px is ~250 dpi there. WeasyPrint embeds an image as it
# gets it, so a 146-item bulletin of 1600 px display copies made a 143 MB PDF; shrunk here
# (JPEG draft decoding: a few ms each) it is a tenth of that, and faster to write.
PRINT_MAX_PX = 800


def _print_size(stored) -> io.BytesIO:
    data = stored.read()
    try:
        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) <= PRINT_MAX_PX or image.format != "JPEG":
                return io.BytesIO(data)
            image.draft("RGB", (PRINT_MAX_PX, PRINT_MAX_PX))
            image.thumbnail((PRINT_MAX_PX, PRINT_MAX_PX), Image.Resampling.BOX)
            smaller = io.BytesIO()
            image.save(smaller, "JPEG", quality=80)
    except (OSError, ValueError):
        return io.BytesIO(data)  # not ours to judge here: WeasyPrint logs and skips it
    smaller.seek(0)
    return smaller


def _response(url: str, file) -> URLFetcherResponse:
    # WeasyPrint ignores a stylesheet whose type is not text/css; it closes the file after use.
    content_type = mimetypes.guess_type(url.split("?")[0])[0] or "application/octet-stream"
    return URLFetcherResponse(url, body=file, headers={"Content-Type": content_type})
