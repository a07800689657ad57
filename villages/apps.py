from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VillagesConfig(AppConfig):
    name = "villages"
    verbose_name = _("Geography and people")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from villages import checks  # noqa: F401 — registers the system checks
        from villages.people.middleware import flag_on_login

        # A one-time password's duty to choose one's own, read once a login (villages/people).
        user_logged_in.connect(flag_on_login, dispatch_uid="villages.people.flag_on_login")
