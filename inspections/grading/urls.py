"""Campaigns, rounds, village assessments, and the grades they publish."""

from django.urls import path

from inspections.grading import views, views_grades

urlpatterns = [
    # Campaigns, rounds and village assessments (views.py).
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("rounds/<int:pk>/", views.round_detail, name="round_detail"),
    path("rounds/<int:pk>/do/<str:action>/", views.round_action, name="round_action"),
    path("rounds/<int:pk>/assess/", views.assessment_start, name="assessment_start"),
    path("assessments/<int:pk>/", views.assessment_detail, name="assessment_detail"),
    path(
        "assessments/<int:pk>/do/<str:action>/",
        views.assessment_action,
        name="assessment_action",
    ),
    path(
        "assessments/<int:pk>/items/<int:item>/",
        views.deduction_save,
        name="deduction_save",
    ),
    path("deductions/<int:pk>/ticket/", views.deduction_ticket, name="deduction_ticket"),
    # Grades, rankings and their documents.
    path("grades/", views_grades.grades_home, name="grades_home"),
    path("grades/campaigns/<int:pk>/", views_grades.campaign_grades, name="campaign_grades"),
    path("grades/rounds/<int:pk>/", views_grades.round_grades, name="round_grades"),
    path("grades/rounds/<int:pk>.pdf", views_grades.round_grades_pdf, name="round_grades_pdf"),
    path("grades/rounds/<int:pk>.xlsx", views_grades.round_grades_xlsx, name="round_grades_xlsx"),
    path("grades/villages/<str:code>/", views_grades.village_grades, name="village_grades"),
]
