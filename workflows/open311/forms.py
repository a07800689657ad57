"""The parameters of Open311's requests.json, GET and POST, checked as the standard states them.
Each error names the parameter it is about: the caller is a program whose author reads it."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from workflows.open311.catalog import SERVICES
from workflows.open311.selectors import MAX_REQUESTS, STATUSES, RequestQuery

# "may not span more than 90 days"; "when not specified, the range defaults to most recent 90
# days" (GeoReport v2, GET Service Requests).
WINDOW = timedelta(days=90)
DESCRIPTION_MAX = 4000  # "free form text limited to 4,000 characters"
ADDRESS_MAX = 120  # a ticket's site label
ID_MAX = 20  # a ticket's number


class RequestCreateForm(forms.Form):
    service_code = forms.CharField(max_length=20)
    lat = forms.FloatField(min_value=-90, max_value=90)
    long = forms.FloatField(min_value=-180, max_value=180)
    description = forms.CharField(max_length=DESCRIPTION_MAX, required=False)
    address_string = forms.CharField(max_length=ADDRESS_MAX, required=False)
    media_url = forms.URLField(
        max_length=500,
        required=False,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
    )
    account_id = forms.CharField(max_length=100, required=False)

    def clean(self):
        data = super().clean()
        position = self.data.get("lat") and self.data.get("long")
        if self.data.get("address_string") and not position:
            self.add_error(None, _("Send lat and long: addresses are not looked up."))
        return data


def _split(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def w3c_datetime(value: str) -> datetime:
    """A W3C date and time ("2010-01-01T00:00:00Z", "…+08:00", or a date); one without a zone
    is read in the county's time (Asia/Shanghai)."""
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise forms.ValidationError(
            _("Use a W3C date and time, e.g. 2025-01-01T00:00:00+08:00."), code="invalid"
        )
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class RequestQueryForm(forms.Form):
    service_request_id = forms.CharField(required=False)
    service_code = forms.CharField(required=False)
    start_date = forms.CharField(required=False)
    end_date = forms.CharField(required=False)
    status = forms.CharField(required=False)

    def clean_service_request_id(self) -> tuple[str, ...]:
        ids = _split(self.cleaned_data["service_request_id"])
        if len(ids) > MAX_REQUESTS:
            raise forms.ValidationError(
                _("At most %(max)d ids at once.") % {"max": MAX_REQUESTS}, code="too_many"
            )
        return tuple(i for i in ids if len(i) <= ID_MAX)

    def clean_service_code(self) -> tuple[str, ...]:
        codes = _split(self.cleaned_data["service_code"])
        unknown = [code for code in codes if code not in SERVICES]
        if unknown:
            raise forms.ValidationError(
                _("Unknown service_code: %(codes)s.") % {"codes": ", ".join(unknown)},
                code="unknown",
            )
        return codes

    def clean_status(self) -> tuple[str, ...]:
        statuses = _split(self.cleaned_data["status"])
        if any(status not in STATUSES for status in statuses):
            raise forms.ValidationError(_("status is open, closed or both."), code="invalid")
        return statuses

    def clean_start_date(self) -> datetime | None:
        value = self.cleaned_data["start_date"]
        return w3c_datetime(value) if value else None

    def clean_end_date(self) -> datetime | None:
        value = self.cleaned_data["end_date"]
        return w3c_datetime(value) if value else None

    def clean(self):
        data = super().clean()
        if not self.errors and not data["service_request_id"]:
            try:
                data["window"] = _window(data.get("start_date"), data.get("end_date"))
            except OverflowError:
                self.add_error(None, _("The dates are out of range."))
            except forms.ValidationError as error:
                self.add_error(None, error)
        return data

    def query(self) -> RequestQuery:
        data = self.cleaned_data
        if data["service_request_id"]:
            return RequestQuery(ids=data["service_request_id"])
        start, end = data["window"]
        return RequestQuery(
            codes=data["service_code"], statuses=data["status"], start=start, end=end
        )


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The span of requested_datetime searched: at most 90 days, the most recent by default."""
    if start is None and end is None:
        end = timezone.now()
    if start is None:
        start = end - WINDOW
    elif end is None:
        end = start + WINDOW
    if end < start:
        raise forms.ValidationError(_("end_date is before start_date."), code="order")
    if end - start > WINDOW:
        raise forms.ValidationError(
            _("start_date and end_date may not span more than 90 days."), code="span"
        )
    return start, end
