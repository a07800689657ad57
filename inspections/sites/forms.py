"""Forms of the inspection pages: they parse and type-check what a phone sends; the services
decide whether the patrol may be recorded."""

from __future__ import annotations

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.forms import TextField
from inspections.models import Patrol, PatrolCheck, PatrolResult, PreviousFixed, Signboard
from inspections.sites.presence import Position
from inspections.sites.services import Observation
from workflows.tickets.forms import NOTE_MAX, PhotosField

MAX_PATROL_PHOTOS = 6


class PatrolForm(forms.Form):
    # Sent with the page and back with the POST: a retry of the same submission is recognised.
    key = forms.UUIDField(widget=forms.HiddenInput)
    # Filled by the page's script from the browser's geolocation; empty without GPS. Whoever
    # sends the form can type anything here: presence.py weighs these values, it never trusts
    # them (a computer's browser claiming a 1 m fix, the site's own coordinates pasted in).
    lat = forms.FloatField(min_value=-90, max_value=90, required=False, widget=forms.HiddenInput)
    lng = forms.FloatField(min_value=-180, max_value=180, required=False, widget=forms.HiddenInput)
    accuracy = forms.FloatField(
        min_value=0, max_value=1_000_000, required=False, widget=forms.HiddenInput
    )
    # When the phone took the GPS fix: a patrol queued on the phone offline arrives later than
    # it was observed (the service decides how far the phone's clock is believed).
    observed_at = forms.DateTimeField(required=False, widget=forms.HiddenInput)
    result = forms.ChoiceField(
        label=_("Result"), choices=PatrolResult.choices, widget=forms.RadioSelect
    )
    checks = forms.MultipleChoiceField(
        label=_("What you see"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(name, Patrol._meta.get_field(name).verbose_name) for name in PatrolCheck],
    )
    signboard = forms.ChoiceField(
        label=_("Signboard (公示牌)"),
        choices=Signboard.choices,
        initial=Signboard.GOOD,
        widget=forms.RadioSelect,
    )
    previous_fixed = forms.ChoiceField(
        label=_("Earlier problem rectified? (前次问题是否整改)"),
        choices=PreviousFixed.choices,
        initial=PreviousFixed.NONE,
        widget=forms.RadioSelect,
    )
    note = TextField(
        label=_("Note"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photos = PhotosField(
        required=False,  # the county's policy decides what a patrol without a photo gets
        max_files=MAX_PATROL_PHOTOS,
        label=_("Photos (1–6, from the camera)"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("key", uuid.uuid4())

    def clean(self):
        data = super().clean()
        has_lat, has_lng = data.get("lat") is not None, data.get("lng") is not None
        if has_lat != has_lng:
            raise ValidationError(_("The GPS position is incomplete; try again."))
        return data

    def position(self) -> Position | None:
        data = self.cleaned_data
        if data.get("lat") is None:
            return None
        return Position(lat=data["lat"], lng=data["lng"], accuracy_m=data.get("accuracy"))

    def observation(self) -> Observation:
        data = self.cleaned_data
        return Observation(
            result=data["result"],
            checks=frozenset(data.get("checks") or ()),
            signboard=data["signboard"],
            previous_fixed=data["previous_fixed"],
            note=data.get("note", ""),
        )
