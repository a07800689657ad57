"""Monthly patrol coverage and the map of sites (being built)."""

from django.http import Http404


def coverage(request):
    raise Http404


def site_map(request):
    raise Http404


def site_geojson(request):
    raise Http404
