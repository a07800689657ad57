"""The task force's import page (/imports/): an office without a shell imports its registers.

Each kind registered with an import (villages.import_templates.IMPORTS; inspections registers
its own, docs/architecture.md §1) is offered with its blank template. An upload is first
PREVIEWED: the import runs inside a transaction that is rolled back, so the page shows what it
would create, update and leave unchanged, or every bad line (400, nothing written). The file is
kept in a temporary folder named by a random token held in the session; CONFIRM imports that
same file for real and deletes it. The staff roster has its own page (/people/import/).
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from core.tables import TableImportError
from villages import access
from villages.http import see_other
from villages.import_templates import IMPORTS, ImportCounts, template_get

SUFFIXES = (".xlsx", ".csv")
SESSION_KEY = "import_pending"
PENDING_ROOT = Path(tempfile.gettempdir()) / "village-imports"
PENDING_MAX_AGE = 24 * 3600  # a preview not confirmed within a day is swept away
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
MAX_NAME_BYTES = 200  # file systems take 255 bytes; a Chinese character is 3


class ImportFileForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File (.xlsx or CSV)"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in SUFFIXES:
            raise forms.ValidationError(
                _("Only .xlsx workbooks and CSV files are read (save an .xls as .xlsx).")
            )
        return upload


class _Rollback(Exception):
    """Raised after a preview's counts are taken, to undo what the import wrote."""


# --- views ------------------------------------------------------------------------------------


@login_required
def import_list(request):
    _require(request)
    return _list(request, {})


@login_required
@require_POST
def import_preview(request, kind: str):
    _require(request)
    run = _run_of(kind)
    form = ImportFileForm(request.POST, request.FILES, auto_id=_auto_id(kind))
    if not form.is_valid():
        return _list(request, {"forms": {kind: form}, "failed": kind}, status=400)
    _forget(request)
    token = secrets.token_urlsafe(24)
    file = _store(token, form.cleaned_data["file"])
    counts, errors, status = _attempt(lambda: _dry_run(run, file, request.user))
    if errors:
        shutil.rmtree(file.parent, ignore_errors=True)
        return _list(request, {"errors": errors, "failed": kind}, status=status)
    request.session[SESSION_KEY] = {"token": token, "kind": kind, "file": file.name}
    context = {
        "template": template_get(kind),
        "kind": kind,
        "file": file.name,
        "token": token,
        "counts": counts,
    }
    return render(request, "villages/import_preview.html", context)


@login_required
@require_POST
def import_confirm(request, kind: str):
    _require(request)
    run = _run_of(kind)
    file = _pending(request, kind, request.POST.get("token", ""))
    if file is None:
        errors = [_("This preview has expired or was replaced: upload the file again.")]
        return _list(request, {"errors": errors, "failed": kind}, status=400)
    try:
        counts, errors, status = _attempt(lambda: run(file, request.user))
    finally:
        _forget(request)
    if errors:
        return _list(request, {"errors": errors, "failed": kind}, status=status)
    messages.success(
        request,
        _(
            "%(title)s imported from %(file)s: %(created)d created, %(updated)d updated, "
            "%(unchanged)d unchanged."
        )
        % {
            "title": template_get(kind).title,
            "file": file.name,
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
        },
    )
    for note in counts.notes:
        messages.info(request, note)
    return see_other(reverse("import_list"))


urlpatterns = [
    path("imports/", import_list, name="import_list"),
    path("imports/<slug:kind>/preview/", import_preview, name="import_preview"),
    path("imports/<slug:kind>/confirm/", import_confirm, name="import_confirm"),
]


# --- helpers ----------------------------------------------------------------------------------


def _require(request) -> None:
    access.require(request.user, "imports.run", action=_("import registers"))


def _run_of(kind: str):
    try:
        return IMPORTS[kind]
    except KeyError:
        raise Http404 from None


def _list(request, context: dict, status: int = 200):
    given = context.pop("forms", {})
    kinds = [
        {
            "kind": kind,
            "template": template_get(kind),
            "form": given.get(kind) or ImportFileForm(auto_id=_auto_id(kind)),
        }
        for kind in IMPORTS
    ]
    context = {"kinds": kinds, "staff": template_get("staff"), **context}
    return render(request, "villages/import_list.html", context, status=status)


def _auto_id(kind: str) -> str:
    """One page holds a form per kind: their fields' ids must differ."""
    return f"id_{kind}_%s"


def _attempt(call) -> tuple[ImportCounts | None, list[str], int]:
    """(counts, [], 200) if `call` ran; else the messages by line and the status to answer."""
    try:
        return call(), [], 200
    except TableImportError as error:
        return None, list(error.errors), 400
    except ApplicationError as error:
        return None, [error.message], error.status


def _dry_run(run, file: Path, user) -> ImportCounts:
    """What the import would do: it runs, its counts are taken, and all it wrote is undone."""
    counts = None
    try:
        with transaction.atomic():
            counts = run(file, user)
            raise _Rollback
    except _Rollback:
        pass
    return counts


def _store(token: str, upload) -> Path:
    """The upload in a folder of its own, under the office's own file name, so that an error
    names the file it knows."""
    _sweep()
    name = Path(upload.name).name
    if len(name.encode()) > MAX_NAME_BYTES:
        name = "upload" + Path(name).suffix.lower()
    folder = PENDING_ROOT / token
    folder.mkdir(parents=True, mode=0o700)
    file = folder / name
    with file.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return file


def _pending(request, kind: str, token: str) -> Path | None:
    """The previewed file, if `token` is the session's preview of `kind` and it is still kept."""
    pending = request.session.get(SESSION_KEY) or {}
    stored = str(pending.get("token", ""))
    if not (TOKEN.fullmatch(stored) and secrets.compare_digest(stored, token)):
        return None
    if pending.get("kind") != kind:
        return None
    file = PENDING_ROOT / stored / Path(str(pending.get("file", ""))).name
    return file if file.is_file() else None


def _forget(request) -> None:
    """Drop the session's previewed file, if any."""
    pending = request.session.pop(SESSION_KEY, None) or {}
    token = str(pending.get("token", ""))
    if TOKEN.fullmatch(token):
        shutil.rmtree(PENDING_ROOT / token, ignore_errors=True)


def _sweep() -> None:
    """Previews never confirmed: their files are removed after a day."""
    if not PENDING_ROOT.is_dir():
        return
    cutoff = time.time() - PENDING_MAX_AGE
    for folder in PENDING_ROOT.iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
