"""An evidence photo's display copy, print copy or thumbnail, behind the login (or an access
token's `Authorization: Bearer`, for the photo URLs the API gives).

Served only to a signed-in user who may see something holding the photo (a ticket, a step of a
ticket's or toilet job's timeline, a patrol, a deduction, a bulletin: workflows.evidence.holders),
checked on every request — a copied URL stops working when its holder's membership goes. Anyone
else gets 404, as for a photo that does not exist. Originals (which keep GPS) have no URL at all.
The print copy is what PDFs embed (core.pdf reads it through `stored_name`, without HTTP); a
photo stored before print copies existed answers its print URL with the display copy.

How the bytes go out (README § Production, § Scaling out):
- object storage (`MEDIA_S3_BUCKET`, or another `MEDIA_STORAGE_BACKEND`): a redirect to the
  storage's URL, for S3 one signed for MEDIA_S3_URL_EXPIRE seconds (config.settings.
  media_s3_storage); whatever MEDIA_ACCEL_REDIRECT says, as there is no local file to send;
- `MEDIA_ACCEL_REDIRECT` set (nginx): an empty answer with `X-Accel-Redirect: <prefix><name>`;
  nginx sends the file from an `internal` location, so no worker is held while it goes out;
- otherwise (the embedded setup, tests): streamed from the default storage.
"""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from villages.people.api_auth import login_or_token_required
from villages.scope import get_visible_or_404
from workflows.models import EvidencePhoto

# What a URL may name (never "original"), and the columns each reads, in order: the first one
# not empty is served. A photo without a print copy yet (stored before them, until
# `make_print_copies` has run) prints its display copy.
COLUMNS = {
    "display": ("display",),
    "print": ("print_copy", "display"),
    "thumbnail": ("thumbnail",),
}
VARIANTS = tuple(COLUMNS)
CONTENT_TYPE = "image/jpeg"  # the pipeline stores every copy as JPEG


@login_or_token_required  # the API's photo URLs work with the caller's token
@require_safe
def photo_file(request, pk: int, variant: str):
    if variant not in VARIANTS:
        raise Http404(_("Not found, or outside your jurisdiction."))
    columns = COLUMNS[variant]
    photo = get_visible_or_404(EvidencePhoto.objects.only(*columns), request.user, pk=pk)
    response = _file_response(_first_name(getattr(photo, column).name for column in columns))
    # Like every answer to a signed-in user (villages.middleware.PrivateResponseMiddleware): a
    # photo of a household's home must not stay in a shared office PC's cache after logout, nor
    # outlive a membership taken away. Set here, so it holds whichever way the bytes go out.
    patch_cache_control(response, no_store=True, private=True)
    return response


def _file_response(name: str) -> HttpResponse:
    if not isinstance(default_storage, FileSystemStorage):
        return HttpResponseRedirect(default_storage.url(name))
    prefix = settings.MEDIA_ACCEL_REDIRECT
    if prefix:
        response = HttpResponse(content_type=CONTENT_TYPE)
        response["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{quote(name)}"
        return response
    try:
        file = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404(_("Not found, or outside your jurisdiction.")) from None
    return FileResponse(file, content_type=CONTENT_TYPE)


def stored_name(*, pk: int, variant: str) -> str | None:
    """The storage name behind a photo URL, for PDFs (core.pdf reads it without HTTP). No user
    check: a PDF embeds only the photos its own template links, after the page's check."""
    if variant not in VARIANTS:
        return None
    names = EvidencePhoto.objects.filter(pk=pk).values_list(*COLUMNS[variant]).first()
    return _first_name(names or ()) or None


def _first_name(names) -> str:
    return next((name for name in names if name), "")


# core.pdf looks for this on the view a URL resolves to (core may not import workflows).
photo_file.stored_name = stored_name
