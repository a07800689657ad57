"""People pages (人员管理): the list, adding a person, a person's page with his roles, account and
history, the roster import, the access tokens of other systems, and the password page every user
has.

Who may: the people.manage permission (403 with the reason before anything else), then the
person inside the user's jurisdiction (404), then the rank and self rules of the services (403).
Bad input answers 400 with the form's message; a refused change stores nothing. A one-time
password is shown once, on the page the POST leads to (villages/people/reveal.py); a token's
secret only in the answer to the POST that made it (201), kept nowhere.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordChangeView
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, NotFound
from villages import access
from villages.http import see_other
from villages.people import reveal, selectors, services, tokens
from villages.people.filtersets import PersonFilterSet
from villages.people.forms import PersonForm, RemoveRoleForm, RoleForm, RosterForm, TokenForm
from villages.people.middleware import SESSION_FLAG
from villages.people.roster import StaffImportError, staff_import

PAGE_SIZE = 50
# Each new person's password hash takes ~0.3 s: a page request must end well within the web
# server's timeout. Longer rosters: split them, or `manage.py import_staff`.
MAX_NEW_ON_PAGE = 100
# The keys of the token forms this browser has sent (TokenForm.key), the last few: a form sent
# again makes no second token.
SENT_TOKEN_FORMS = "people.token_forms"
SENT_TOKEN_FORMS_KEPT = 20


def _require(request) -> None:
    access.require(request.user, "people.manage", action=_("manage people"))


def _person(request, pk: int):
    return selectors.person_or_404(user=request.user, pk=pk)


def _to_person(person):
    return see_other(reverse("person_detail", args=[person.pk]))


# --- the list and a new person ----------------------------------------------------------------


@login_required
def person_list(request):
    _require(request)
    filterset = PersonFilterSet(
        request.GET or None,
        queryset=selectors.person_list(user=request.user),
        user=request.user,
    )
    status = 400 if filterset.is_bound and filterset.errors else 200
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": filterset, "page": page, "query": query.urlencode()}
    return render(request, "villages/people_list.html", context, status=status)


@login_required
def person_new(request):
    _require(request)
    posted = request.method == "POST"
    form = PersonForm(request.POST if posted else None, user=request.user)
    if not posted:
        return render(request, "villages/people_new.html", {"form": form})
    status = 400
    if form.is_valid():
        data, membership = form.cleaned_data, form.cleaned_data["membership"]
        try:
            person, password = services.person_create(
                by=request.user,
                name=data["name"],
                username=data["username"],
                phone=data["phone"],
                role=membership.role,
                town=membership.town,
                village=membership.village,
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
            status = error.status
        else:
            messages.success(
                request, _("%(name)s was added.") % {"name": services.display_name(person)}
            )
            response = _to_person(person)
            reveal.stash(request, response, {"person": person.pk, "password": password})
            return response
    return render(request, "villages/people_new.html", {"form": form}, status=status)


# --- one person -------------------------------------------------------------------------------


def _detail(request, person, *, status: int = 200, error: str = "", role_form=None):
    shown = reveal.take(request)
    user = request.user
    memberships = list(person.memberships.all())
    context = {
        "person": person,
        "profile": selectors.profile_of(person),
        "memberships": [(m, access.may_grant(user, m)) for m in memberships],
        "history": selectors.membership_history(person),
        "role_form": role_form or RoleForm(user=user),
        "password": shown["password"] if shown and shown.get("person") == person.pk else None,
        "error": error,
        "is_self": person.pk == user.pk,
        "may_manage": access.may_manage(user, person, memberships),
    }
    response = render(request, "villages/people_detail.html", context, status=status)
    return reveal.forget(request, response)


def _refused(request, pk: int, error: ApplicationError, **kwargs):
    return _detail(
        request, _person(request, pk), status=error.status, error=error.message, **kwargs
    )


@login_required
def person_detail(request, pk: int):
    _require(request)
    return _detail(request, _person(request, pk))


@login_required
@require_POST
def person_role_add(request, pk: int):
    _require(request)
    person = _person(request, pk)
    form = RoleForm(request.POST, user=request.user)
    if not form.is_valid():
        return _detail(request, person, status=400, role_form=form)
    membership = form.cleaned_data["membership"]
    try:
        services.membership_add(
            by=request.user,
            person=person,
            role=membership.role,
            town=membership.town,
            village=membership.village,
        )
    except ApplicationError as error:
        return _refused(request, pk, error, role_form=form)
    messages.success(request, _("Role given: %(role)s.") % {"role": membership.get_role_display()})
    return _to_person(person)


@login_required
@require_POST
def person_role_remove(request, pk: int):
    _require(request)
    person = _person(request, pk)
    form = RemoveRoleForm(request.POST, person=person)
    if not form.is_valid():
        message = " ".join(form.errors.get("membership", [])) or _("Choose a role.")
        return _detail(request, person, status=400, error=message)
    membership = form.cleaned_data["membership"]
    try:
        services.membership_remove(by=request.user, person=person, membership=membership)
    except ApplicationError as error:
        return _refused(request, pk, error)
    messages.success(
        request, _("Role taken away: %(role)s.") % {"role": membership.get_role_display()}
    )
    return _to_person(person)


def _set_active(request, pk: int, *, active: bool):
    _require(request)
    person = _person(request, pk)
    try:
        services.person_set_active(by=request.user, person=person, active=active)
    except ApplicationError as error:
        return _refused(request, pk, error)
    name = services.display_name(person)
    if active:
        messages.success(request, _("%(name)s can log in again.") % {"name": name})
    else:
        messages.success(request, _("%(name)s can no longer log in.") % {"name": name})
    return _to_person(person)


@login_required
@require_POST
def person_deactivate(request, pk: int):
    return _set_active(request, pk, active=False)


@login_required
@require_POST
def person_reactivate(request, pk: int):
    return _set_active(request, pk, active=True)


@login_required
@require_POST
def person_password_reset(request, pk: int):
    _require(request)
    person = _person(request, pk)
    try:
        password = services.password_reset(by=request.user, person=person)
    except ApplicationError as error:
        return _refused(request, pk, error)
    response = _to_person(person)
    reveal.stash(request, response, {"person": person.pk, "password": password})
    return response


# --- the roster -------------------------------------------------------------------------------


@login_required
def person_import(request):
    _require(request)
    if request.method != "POST":
        shown = reveal.take(request)
        context = {"form": RosterForm(), "result": shown.get("import") if shown else None}
        return reveal.forget(request, render(request, "villages/people_import.html", context))
    form = RosterForm(request.POST, request.FILES)
    errors, status = [], 400
    if form.is_valid():
        try:
            summary = _import(request, form.cleaned_data["file"])
        except StaffImportError as error:
            errors = error.errors
        except ApplicationError as error:
            errors, status = [error.message], error.status
        else:
            response = see_other(reverse("person_import"))
            result = {
                "created": summary.created,
                "roles_changed": summary.roles_changed,
                "details_changed": summary.details_changed,
                "unchanged": summary.unchanged,
                "passwords": summary.passwords,
            }
            reveal.stash(request, response, {"import": result})
            return response
    context = {"form": form, "errors": errors}
    return render(request, "villages/people_import.html", context, status=status)


def _import(request, upload):
    with tempfile.TemporaryDirectory() as folder:
        # The office's own file name, so that an error names the file it knows.
        path = Path(folder) / Path(upload.name).name
        with path.open("wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        return staff_import(path=path, by=request.user, max_new=MAX_NEW_ON_PAGE)


# --- access tokens of other systems ----------------------------------------------------------


@login_required
def token_list(request):
    """The tokens, and the form that makes one (POST: the new token's secret, once)."""
    _require(request)
    if request.method == "POST":
        return _token_create(request)
    return _tokens_page(request, TokenForm(user=request.user))


def _tokens_page(request, form, *, status: int = 200, error: str = ""):
    user, now = request.user, timezone.now()
    page = Paginator(tokens.token_list(user=user), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for token in page:
        membership = next(iter(token.user.memberships.all()), None)
        state = tokens.state_of(token, now=now)
        revocable = state == tokens.State.VALID and (
            membership is None or access.may_grant(user, membership)
        )
        rows.append(
            {"token": token, "membership": membership, "state": state, "revocable": revocable}
        )
    context = {"form": form, "page": page, "rows": rows, "error": error}
    return render(request, "villages/people_tokens.html", context, status=status)


def _token_create(request):
    form = TokenForm(request.POST, user=request.user)
    if not form.is_valid():
        return _tokens_page(request, form, status=400)
    data, membership = form.cleaned_data, form.cleaned_data["membership"]
    key = str(data["key"]) if data["key"] else None
    # The session, not a cache: a reload of the answer below (the browser posts the form again)
    # may come minutes later, and to another web process.
    sent = request.session.get(SENT_TOKEN_FORMS, [])
    if key is not None and key in sent:
        error = _(
            "This form was sent already: its token was made then, and its secret is not shown "
            "again. If the secret was not copied, revoke that token and make a new one."
        )
        return _tokens_page(request, TokenForm(user=request.user), status=409, error=error)
    try:
        token, secret = tokens.token_create(
            by=request.user,
            name=data["name"],
            role=membership.role,
            town=membership.town,
            village=membership.village,
            days=data["days"],
            rate_per_minute=data["rate_per_minute"],
        )
    except ApplicationError as error:
        form.add_error(None, error.message)
        return _tokens_page(request, form, status=error.status)
    if key is not None:
        request.session[SENT_TOKEN_FORMS] = [*sent, key][-SENT_TOKEN_FORMS_KEPT:]
    context = {"token": token, "membership": membership, "secret": secret}
    response = render(request, "villages/people_token_created.html", context, status=201)
    add_never_cache_headers(response)  # the secret stays in no cache, and Back does not show it
    return response


def _token(request, pk: int):
    try:
        return tokens.token_or_404(user=request.user, pk=pk)
    except NotFound as error:
        raise Http404(error.message) from None


@login_required
@require_POST
def token_revoke(request, pk: int):
    _require(request)
    token = _token(request, pk)
    refused = None
    if request.POST.get("confirm") != "yes":
        refused = ApplicationError(_("Tick the box to confirm: the system using it stops at once."))
    else:
        try:
            tokens.token_revoke(by=request.user, token=token)
        except ApplicationError as error:
            refused = error
    if refused is not None:
        form = TokenForm(user=request.user)
        return _tokens_page(request, form, status=refused.status, error=refused.message)
    messages.success(
        request,
        _("%(name)s was revoked: it works no more.") % {"name": f"{token.name} ({token.prefix}…)"},
    )
    return see_other(reverse("token_list"))


# --- every user's own password ----------------------------------------------------------------


class PasswordChange(PasswordChangeView):
    """Django's password change, in the app's layout; after a one-time password the middleware
    sends the user here until he has chosen his own."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.password_changed(user=self.request.user)
        self.request.session.pop(SESSION_FLAG, None)
        messages.success(self.request, _("Your password was changed."))
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {
            "forced": bool(self.request.session.get(SESSION_FLAG))
        }
