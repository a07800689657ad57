"""Site register, the scan → patrol page, a patrol's result (being built)."""

from django.http import Http404


def scan(request, token):
    raise Http404


def patrol_detail(request, pk):
    raise Http404


def site_list(request):
    raise Http404


def site_detail(request, code):
    raise Http404


def site_action(request, code, action):
    raise Http404
