from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control
from django.views.generic import RedirectView

from config.api import api
from inspections.sites.urls import scan_urlpatterns
from villages.people.views import PasswordChange

admin.site.site_header = _("Rural living environment — administration")
admin.site.site_title = _("Rural living environment")

# Browsers ask every site for /favicon.ico: the app icon, a day in their cache. Not a permanent
# redirect: the icon's static URL is hashed in production and changes with a new icon. Resolved
# per request (lazy), as the static files' manifest is only read then.
favicon = cache_control(public=True, max_age=86400)(
    RedirectView.as_view(url=lazy(static, str)("icons/app-192.png"))
)

urlpatterns = [
    path("", include(scan_urlpatterns)),  # first: inspections/sites/urls.py says why
    path("favicon.ico", favicon, name="favicon"),
    path("", include("villages.urls")),
    path("", include("workflows.urls")),
    path("", include("inspections.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", PasswordChange.as_view(), name="password_change"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

# No static() for MEDIA_URL, not even with DEBUG: the only media are evidence photos, served
# behind the login by workflows.evidence.views (its originals, which keep GPS, never).
