"""The field app: manifest and service worker at the root, its pages under /field/."""

from django.urls import path

from inspections.field import views

urlpatterns = [
    path("sw.js", views.worker_script, name="worker_script"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("field/", views.field_home, name="field_home"),
    path("field/scan/", views.scan_shell, name="scan_shell"),
    path("field/pack.json", views.field_pack, name="field_pack"),
    path("field/me.json", views.field_me, name="field_me"),
]
