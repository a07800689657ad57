"""Forms of the people pages. Roles, towns and villages offered (and accepted) are those the user
may give (villages.access.grantable_roles) inside his people.manage jurisdiction; whether the
jurisdiction fits the role is the service's rule (villages.people.services.membership_for)."""

from __future__ import annotations

import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from core.errors import ApplicationError
from villages import access
from villages.models import Membership, Town, Village
from villages.people import services, tokens

ROSTER_SUFFIXES = (".xlsx", ".csv")


class RoleForm(forms.Form):
    """A role and where: a town, a village of a town, or neither (the whole county)."""

    role = forms.ChoiceField(label=gettext_lazy("Role"))
    town = forms.ModelChoiceField(
        label=gettext_lazy("Town"),
        queryset=Town.objects.none(),
        to_field_name="code",
        required=False,
        empty_label=gettext_lazy("— none (whole county) —"),
    )
    village = forms.ChoiceField(label=gettext_lazy("Village"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        roles = access.grantable_roles(user)
        self.fields["role"].choices = [("", "—"), *((r.value, r.label) for r in roles)]
        self.fields["role"].help_text = " ".join(
            f"{role.label}: {access.jurisdiction_hint(role)}" for role in roles
        )
        self.fields["town"].queryset = (
            Town.objects.scoped(user, perm="people.manage", town="code", village="villages__code")
            .only("code", "name")
            .order_by("code")
        )
        # A select of the administrative villages grouped by town; the page's script shows the
        # chosen town's only.
        groups: dict[str, list[tuple[str, str]]] = {}
        for village in self._villages().select_related("town").only("code", "name", "town__name"):
            groups.setdefault(village.town.name, []).append((village.code, village.name))
        self.fields["village"].choices = [("", _("— none —")), *groups.items()]

    def _villages(self):
        return (
            Village.objects.administrative()
            .scoped(self.user, perm="people.manage", town="town_id", village="code")
            .order_by("code")
        )

    def clean_village(self) -> Village | None:
        code = self.cleaned_data.get("village")
        if not code:
            return None
        village = self._villages().select_related("town").filter(code=code).first()
        if village is None:
            raise forms.ValidationError(_("Choose a village of the list."))
        return village

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            cleaned["membership"] = services.membership_for(
                role=cleaned["role"],
                town=cleaned.get("town"),
                village=cleaned.get("village"),
                county=access.county_code(self.user, "people.manage"),
            )
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None
        return cleaned


class PersonForm(RoleForm):
    """A new person: who he is, and his first role."""

    name = forms.CharField(
        label=pgettext_lazy("person", "Name"), max_length=services.NAME_MAX_LENGTH
    )
    phone = forms.CharField(
        label=gettext_lazy("Mobile number"),
        required=False,
        max_length=30,
        help_text=gettext_lazy("11 digits; one person's only."),
    )
    username = forms.CharField(
        label=gettext_lazy("User name"),
        max_length=services.USERNAME_MAX_LENGTH,
        help_text=gettext_lazy("What he logs in with: letters, digits and @ . + - _."),
    )

    field_order = ["name", "phone", "username", "role", "town", "village"]

    def clean_name(self) -> str:
        try:
            return services.check_name(self.cleaned_data["name"])
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None

    def clean_phone(self) -> str:
        try:
            phone = services.normalise_mobile(self.cleaned_data["phone"])
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None
        if phone and services.phone_taken(phone):
            raise forms.ValidationError(_("This mobile number is someone else's."))
        return phone

    def clean_username(self) -> str:
        try:
            username = services.check_username(self.cleaned_data["username"])
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None
        if services.username_taken(username):
            raise forms.ValidationError(_("This user name is taken."))
        return username


class RemoveRoleForm(forms.Form):
    membership = forms.ModelChoiceField(queryset=Membership.objects.none())

    def __init__(self, *args, person, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["membership"].queryset = (
            Membership.objects.filter(user=person)
            .select_related("village")
            .only("id", "user", "role", "town", "village__code", "village__town", "village__parent")
        )
        self.fields["membership"].error_messages["invalid_choice"] = _(
            "This role is not the person's (any more); reload the page."
        )


class RosterForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Staff roster (.xlsx or CSV)"),
        help_text=gettext_lazy(
            "Columns 姓名, 手机号, 用户名, 角色, 乡镇代码, 村代码; a row per role of a person."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in ROSTER_SUFFIXES:
            raise forms.ValidationError(
                _("Only .xlsx workbooks and CSV files are read (save an .xls as .xlsx).")
            )
        return upload


class TokenForm(RoleForm):
    """A new access token: the system it is for, the role and jurisdiction it acts with (given
    as a person's role is), how long it lives, and its rate. `key` is the form's own random
    key, so that sending the same form twice (a reload of the page that showed the secret, a
    second click) makes no second token (villages.people.views.token_list)."""

    name = forms.CharField(
        label=pgettext_lazy("token", "Name"),
        max_length=tokens.NAME_MAX_LENGTH,
        help_text=gettext_lazy("The system that will use it, e.g. the 12345 hotline platform."),
    )
    days = forms.TypedChoiceField(label=gettext_lazy("Lifetime"), coerce=int)
    rate_per_minute = forms.IntegerField(
        label=gettext_lazy("Requests per minute"),
        min_value=1,
        max_value=settings.API_TOKEN_RATE_MAX,
        required=False,
    )
    key = forms.UUIDField(
        widget=forms.HiddenInput,
        required=False,
        error_messages={"invalid": gettext_lazy("This form is damaged: reload the page.")},
    )

    field_order = ["name", "role", "town", "village", "days", "rate_per_minute"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        days = self.fields["days"]
        days.choices = [(n, _("%(days)d days") % {"days": n}) for n in tokens.LIFETIMES]
        days.initial = tokens.DEFAULT_LIFETIME
        rate = settings.API_TOKEN_RATE_PER_MINUTE
        self.fields["rate_per_minute"].initial = rate
        self.fields["rate_per_minute"].help_text = _(
            "Blank: %(rate)d. Calls beyond it within a minute are answered 429 (too many)."
        ) % {"rate": rate}
        if not self.is_bound:
            self.initial.setdefault("key", uuid.uuid4())

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())
