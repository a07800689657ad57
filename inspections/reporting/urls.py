"""The county dashboard, the town rankings and the city dashboard (included by config/urls.py)."""

from django.urls import path

from inspections.reporting import views as views_dashboard

urlpatterns = [
    path("dashboard/", views_dashboard.dashboard, name="dashboard"),
    path("dashboard/rankings/", views_dashboard.town_rankings, name="town_rankings"),
    path("city/", views_dashboard.city_dashboard, name="city_dashboard"),
    path("dashboard/rankings.xlsx", views_dashboard.town_rankings_xlsx, name="town_rankings_xlsx"),
]
