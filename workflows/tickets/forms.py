"""Forms of the ticket pages: they parse and type-check what a user sends (dates, decimals,
lengths) with messages in the user's language; the services decide whether it may be done.

Each action form carries a hidden `state`: the state the user saw. A ticket that moved on since
is a conflict (409), not a silent action on something the user did not see.
"""

from __future__ import annotations

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import TextField
from villages import access
from workflows.models import Category, Source, ToiletTicket
from workflows.tickets import selectors
from workflows.tickets.services import FieldWork

NOTE_MAX = 2000  # a note is a few sentences; a megabyte of text is not a note
MAX_PHOTOS = 9
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """`<input type=file name=photos multiple accept=image/* capture=environment>`: the phone
    offers its camera. Only collects the files; the evidence pipeline checks each one."""

    def __init__(self, *, required: bool, max_files: int = MAX_PHOTOS, **kwargs):
        self.max_files = max_files
        widget = MultipleFileInput(attrs={"accept": "image/*", "capture": "environment"})
        kwargs.setdefault("label", _("Photos"))
        super().__init__(required=required, widget=widget, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        if len(files) > self.max_files:
            raise ValidationError(
                _("Attach at most %(max)d photos.") % {"max": self.max_files}, code="too_many"
            )
        cleaned, errors = [], []
        for file in files:
            try:
                cleaned.append(super().clean(file, initial))
            except ValidationError as error:
                errors.extend(self._named(error, file))
        if errors:
            raise ValidationError(errors)
        return cleaned

    @staticmethod
    def _named(error: ValidationError, file) -> list[ValidationError]:
        # Django's own refusals ("The submitted file is empty.") do not say which of several
        # photos they mean; the evidence pipeline's all name the file, and so do these.
        name = getattr(file, "name", "") or ""
        return [
            ValidationError(
                _("%(name)s: %(error)s") % {"name": name, "error": item.messages[0]},
                code=item.code,
            )
            for item in error.error_list
        ]


def note_field(*, required: bool, label, message=None) -> TextField:
    errors = {"required": message} if message else {}
    return TextField(
        label=label,
        required=required,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages=errors,
    )


# --- ticket actions ---------------------------------------------------------------------------


class ActionForm(forms.Form):
    """Base of every action form; `arguments()` are the service's keyword arguments."""

    state = forms.CharField(widget=forms.HiddenInput, max_length=24)

    def __init__(self, *args, ticket, **kwargs):
        self.ticket = ticket
        super().__init__(*args, **kwargs)

    @property
    def has_photos(self) -> bool:
        return "photos" in self.fields

    def arguments(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("state", None)
        data.pop("photos", None)
        return data


class FieldWorkForm(ActionForm):
    """An action done in the field with photos, which the phone may queue without network:
    its own submission key and the time it was recorded travel with it (services.FieldWork)."""

    key = forms.UUIDField(required=False, widget=forms.HiddenInput)
    observed_at = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("key", uuid.uuid4())

    def arguments(self) -> dict:
        data = super().arguments()
        key, observed_at = data.pop("key", None), data.pop("observed_at", None)
        return data | {"field": FieldWork(key=key, observed_at=observed_at)}


class NoteForm(ActionForm):
    note = note_field(required=False, label=_("Note (optional)"))


class ReasonForm(ActionForm):
    reason = note_field(required=True, label=_("Reason"), message=_("Give the reason."))


class EmptyForm(ActionForm):
    pass


class AssignForm(NoteForm):
    deadline = forms.DateField(label=_("Deadline"), widget=DATE_INPUT)
    field_order = ["deadline", "note"]

    def clean_deadline(self):
        deadline = self.cleaned_data["deadline"]
        if deadline < timezone.localdate():
            raise ValidationError(_("The deadline cannot be in the past."))
        return deadline


class SubmitForm(FieldWorkForm):
    note = note_field(
        required=True,
        label=_("What was done (rectification note)"),
        message=_("Write what was done (the rectification note)."),
    )
    photos = PhotosField(
        required=True,
        label=_("Photos after rectification"),
        error_messages={"required": _("Add at least one photo after rectification.")},
    )


class RequestExtensionForm(ActionForm):
    new_deadline = forms.DateField(label=_("New deadline"), widget=DATE_INPUT)
    reason = note_field(
        required=True, label=_("Reason"), message=_("Give the reason for the extension.")
    )

    def clean_new_deadline(self):
        new_deadline = self.cleaned_data["new_deadline"]
        if self.ticket.deadline and new_deadline <= self.ticket.deadline:
            raise ValidationError(_("The new deadline must be later than the current one."))
        return new_deadline


class DispatchForm(ActionForm):
    worker = forms.ModelChoiceField(
        queryset=None,
        label=_("Service worker"),
        empty_label=None,
        error_messages={"invalid_choice": _("Choose a service worker of this town.")},
    )
    note = note_field(required=False, label=_("Note (optional)"))

    def __init__(self, *args, ticket, **kwargs):
        super().__init__(*args, ticket=ticket, **kwargs)
        self.fields["worker"].queryset = selectors.service_workers_for(ticket)
        self.fields["worker"].label_from_instance = lambda u: u.get_full_name() or u.username


class CompleteForm(FieldWorkForm):
    """What a finished job records depends on its kind (services.toilet_complete)."""

    volume_m3 = forms.DecimalField(
        label=_("Pumped volume (m³)"),
        max_digits=6,
        decimal_places=2,
        min_value=0.01,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    disposal_site = TextField(label=_("Disposal site"), max_length=120, required=False)
    parts_used = TextField(label=_("Parts used"), max_length=200, required=False)
    note = note_field(required=False, label=_("Note (optional)"))
    photos = PhotosField(
        required=True,
        label=_("Photos of the finished work"),
        error_messages={"required": _("Add at least one photo of the finished work.")},
    )

    def __init__(self, *args, ticket, **kwargs):
        super().__init__(*args, ticket=ticket, **kwargs)
        kind = ticket.kind
        if kind == ToiletTicket.Kind.PUMPING:
            del self.fields["parts_used"]
            self.fields["volume_m3"].required = True
            self.fields["volume_m3"].error_messages["required"] = _(
                "Enter the pumped volume in m³."
            )
            self.fields["disposal_site"].required = True
            self.fields["disposal_site"].error_messages["required"] = _(
                "Enter where the waste was disposed of."
            )
        else:
            del self.fields["volume_m3"], self.fields["disposal_site"]
        if kind == ToiletTicket.Kind.REPAIR:
            self.fields["parts_used"].required = True
            self.fields["parts_used"].error_messages["required"] = _(
                "Enter the parts used (or “none”)."
            )

    def arguments(self) -> dict:
        data = super().arguments()
        data.setdefault("volume_m3", None)
        return data


class ConfirmForm(NoteForm):
    satisfaction = forms.ChoiceField(
        label=_("The household is"),
        choices=[
            (value, label)
            for value, label in ToiletTicket.Satisfaction.choices
            if value != ToiletTicket.Satisfaction.UNSATISFIED
        ],
        widget=forms.RadioSelect(attrs={"class": "choice-buttons"}),
        error_messages={"required": _("Record the household's satisfaction.")},
    )
    field_order = ["satisfaction", "note"]


class ReopenForm(ActionForm):
    note = note_field(
        required=True,
        label=_("What the household said"),
        message=_("Write what the household said."),
    )


RECTIFICATION_FORMS: dict[str, type[ActionForm]] = {
    "assign": AssignForm,
    "submit": SubmitForm,
    "close": NoteForm,
    "reject": ReasonForm,
    "request_extension": RequestExtensionForm,
    "withdraw_extension": NoteForm,
    "approve_extension": NoteForm,
    "refuse_extension": ReasonForm,
    "cancel": ReasonForm,
}

TOILET_FORMS: dict[str, type[ActionForm]] = {
    "dispatch": DispatchForm,
    "accept": EmptyForm,
    "start": EmptyForm,
    "complete": CompleteForm,
    "confirm": ConfirmForm,
    "reopen": ReopenForm,
    "return": ReasonForm,
    "cancel": ReasonForm,
}


# --- new tickets ------------------------------------------------------------------------------


class VillageSelect(forms.Select):
    """Each option names its town, so that a small script offers only the chosen town's
    villages (static/js/ticket_new.js); without the script every village is listed."""

    def __init__(self, *args, towns_of: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.towns_of = towns_of or {}

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        town = self.towns_of.get(str(getattr(value, "value", value)))
        if town:
            option["attrs"]["data-town"] = town
        return option


class RectificationCreateForm(forms.Form):
    town = forms.ModelChoiceField(queryset=None, label=_("Town"))
    village = forms.ModelChoiceField(
        queryset=None, label=_("Village"), required=False, empty_label=_("(whole town)")
    )
    category = forms.ChoiceField(
        choices=Category.choices, initial=Category.OTHER, required=False, label=_("Category")
    )
    site_label = TextField(label=_("Site"), max_length=120, required=False)
    description = TextField(
        label=_("Problem"),
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Describe the problem.")},
    )
    photos = PhotosField(required=False, label=_("Photos of the problem"))
    deadline = forms.DateField(
        label=_("Deadline (assigns the ticket at once)"), required=False, widget=DATE_INPUT
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["town"].queryset = selectors.towns_for_new_ticket(user=user)
        villages = selectors.villages_for_new_ticket(user=user)
        self.fields["village"].queryset = villages
        self.fields["village"].widget = VillageSelect(
            towns_of=dict(villages.values_list("code", "town_id")),
        )
        self.fields["village"].widget.choices = self.fields["village"].choices
        if not access.allows(user, "ticket.assign"):
            del self.fields["deadline"]  # assigning at once needs the right to assign

    def clean_deadline(self):
        deadline = self.cleaned_data.get("deadline")
        if deadline and deadline < timezone.localdate():
            raise ValidationError(_("The deadline cannot be in the past."))
        return deadline

    def clean(self):
        data = super().clean()
        town, village = data.get("town"), data.get("village")
        if town and village and village.town_id != town.code:
            self.add_error("village", _("The village does not belong to the town."))
        return data

    def arguments(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("photos")
        data["source_kind"] = Source.REPORT
        data["category"] = data.get("category") or Category.OTHER
        return data


class ToiletReportForm(forms.Form):
    """Two taps on a phone: a household, then a kind (the kind buttons submit the form)."""

    household = forms.ModelChoiceField(
        queryset=None,
        label=_("Household"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose the household."),
            "invalid_choice": _("Choose a household of your village."),
        },
    )
    kind = forms.ChoiceField(
        choices=ToiletTicket.Kind.choices,
        label=_("What is needed"),
        error_messages={"required": _("Choose what the household needs.")},
    )
    channel = forms.ChoiceField(
        choices=[
            (value, label)
            for value, label in ToiletTicket.Channel.choices
            if value != ToiletTicket.Channel.VILLAGE_ADMIN
        ],
        initial=ToiletTicket.Channel.PHONE,
        label=_("Received by"),
    )
    description = TextField(
        label=_("Note (optional)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    photos = PhotosField(required=False, label=_("Photo (optional)"))

    def __init__(self, *args, user, households, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["household"].queryset = households
        # A village admin reports on a household's behalf; officers take calls and patrols.
        self.officer = access.allows(user, "toilet.channel")
        if not self.officer:
            del self.fields["channel"]

    def arguments(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("photos")
        data.setdefault("channel", ToiletTicket.Channel.VILLAGE_ADMIN)
        return data


def kept_input(form_class: type[forms.Form], data, **kwargs) -> forms.Form:
    """An unbound form showing what the user typed (a conflict: nothing to validate, nothing
    lost). Files cannot be put back into a file input: the page says to choose them again."""
    initial = {key: data.get(key) for key in data if key != "csrfmiddlewaretoken"}
    return form_class(initial=initial, **kwargs)
