"""Bulletin pages (通报); config/urls.py includes these at the root."""

from django.urls import path

from workflows.bulletins import views

urlpatterns = [
    path("bulletins/", views.bulletin_list, name="bulletin_list"),
    path("bulletins/new/", views.bulletin_new, name="bulletin_new"),
    path("bulletins/<int:pk>/", views.bulletin_detail, name="bulletin_detail"),
    path("bulletins/<int:pk>/compose/", views.bulletin_compose, name="bulletin_compose"),
    path("bulletins/<int:pk>/issue/", views.bulletin_issue, name="bulletin_issue"),
    path(
        "bulletins/<int:pk>/acknowledge/", views.bulletin_acknowledge, name="bulletin_acknowledge"
    ),
    path("bulletins/<int:pk>.pdf", views.bulletin_pdf, name="bulletin_pdf"),
    path(
        "bulletins/<int:pk>/follow-up.pdf",
        views.bulletin_follow_up_pdf,
        name="bulletin_follow_up_pdf",
    ),
]
