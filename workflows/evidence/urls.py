"""Evidence photos behind the login (workflows.evidence.views); no URL names an original."""

from django.urls import path

from workflows.evidence import views

urlpatterns = [
    path(
        "photos/<int:pk>/display.jpg",
        views.photo_file,
        {"variant": "display"},
        name="photo_display",
    ),
    path(
        "photos/<int:pk>/print.jpg",
        views.photo_file,
        {"variant": "print"},
        name="photo_print",
    ),
    path(
        "photos/<int:pk>/thumbnail.jpg",
        views.photo_file,
        {"variant": "thumbnail"},
        name="photo_thumbnail",
    ),
]
