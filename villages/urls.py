from django.urls import include, path

from villages import configuration_page, imports_page, views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("villages.people.urls")),
    path("towns/", views.town_list, name="town_list"),
    path("towns/<str:code>/", views.town_detail, name="town_detail"),
    path("villages/", views.village_list, name="village_list"),
    path("villages/<str:code>/", views.village_detail, name="village_detail"),
    path("imports/templates/<slug:kind>.xlsx", views.import_template, name="import_template"),
    path("", include(imports_page)),
    path("", include(configuration_page)),
]
