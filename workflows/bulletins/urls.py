"""Bulletin pages (通报); config/urls.py includes these at the root."""

from django.urls import path

from workflows.bulletins import city_views, views

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
    # The city's bulletins (市级通报): workflows/bulletins/city_views.py
    path("city/bulletins/", city_views.city_bulletin_list, name="city_bulletin_list"),
    path("city/bulletins/new/", city_views.city_bulletin_new, name="city_bulletin_new"),
    path("city/bulletins/<int:pk>/", city_views.city_bulletin_detail, name="city_bulletin_detail"),
    path("city/bulletins/<int:pk>.pdf", city_views.city_bulletin_pdf, name="city_bulletin_pdf"),
    path(
        "city/bulletins/<int:pk>/compose/",
        city_views.city_bulletin_compose,
        name="city_bulletin_compose",
    ),
    path(
        "city/bulletins/<int:pk>/issue/", city_views.city_bulletin_issue, name="city_bulletin_issue"
    ),
    path(
        "city/bulletins/<int:pk>/acknowledge/",
        city_views.city_bulletin_acknowledge,
        name="city_bulletin_acknowledge",
    ),
]
