"""Rectification and toilet service tickets: lists, pages, actions, ledgers."""

from django.urls import path

from workflows.tickets import views

urlpatterns = [
    path("tickets/", views.ticket_list, name="ticket_list"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/export.xlsx", views.ticket_export, name="ticket_export"),
    path("tickets/<str:number>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<str:number>/do/<str:action>/", views.ticket_action, name="ticket_action"),
    path("toilet/", views.toilet_list, name="toilet_list"),
    path("toilet/new/", views.toilet_new, name="toilet_new"),
    path("toilet/export.xlsx", views.toilet_export, name="toilet_export"),
    path("toilet/<str:number>/", views.toilet_detail, name="toilet_detail"),
    path("toilet/<str:number>/do/<str:action>/", views.toilet_action, name="toilet_action"),
]
