from django.urls import path

from villages.people import views

urlpatterns = [
    path("people/", views.person_list, name="person_list"),
    path("people/new/", views.person_new, name="person_new"),
    path("people/import/", views.person_import, name="person_import"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("people/<int:pk>/roles/add/", views.person_role_add, name="person_role_add"),
    path("people/<int:pk>/roles/remove/", views.person_role_remove, name="person_role_remove"),
    path("people/<int:pk>/deactivate/", views.person_deactivate, name="person_deactivate"),
    path("people/<int:pk>/reactivate/", views.person_reactivate, name="person_reactivate"),
    path("people/<int:pk>/password/", views.person_password_reset, name="person_password_reset"),
    path("people/tokens/", views.token_list, name="token_list"),
    path("people/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
