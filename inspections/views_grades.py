"""Grades, rankings (红黑榜) and their documents (being built)."""

from django.http import Http404


def grades_home(request):
    raise Http404


def campaign_grades(request, pk):
    raise Http404


def round_grades(request, pk):
    raise Http404


def round_grades_pdf(request, pk):
    raise Http404


def round_grades_xlsx(request, pk):
    raise Http404


def village_grades(request, code):
    raise Http404
