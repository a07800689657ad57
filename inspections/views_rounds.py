"""Campaigns, rounds and the phone assessment page (being built)."""

from django.http import Http404


def campaign_list(request):
    raise Http404


def campaign_detail(request, pk):
    raise Http404


def round_detail(request, pk):
    raise Http404


def round_action(request, pk, action):
    raise Http404


def assessment_start(request, pk):
    raise Http404


def assessment_detail(request, pk):
    raise Http404


def assessment_action(request, pk, action):
    raise Http404


def deduction_save(request, pk, item):
    raise Http404


def deduction_ticket(request, pk):
    raise Http404
