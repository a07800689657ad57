"""Printable QR label sheets (being built)."""

from django.http import Http404


def labels_pdf(request):
    raise Http404
