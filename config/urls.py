from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from villages.people.views import PasswordChange

admin.site.site_header = _("Rural living environment — administration")
admin.site.site_title = _("Rural living environment")

urlpatterns = [
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
]

# No static() for MEDIA_URL, not even with DEBUG: the only media are evidence photos, served
# behind the login by workflows.evidence.views (its originals, which keep GPS, never).
