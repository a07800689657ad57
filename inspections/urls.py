from django.urls import path

from inspections import views, views_coverage, views_grades, views_labels, views_rounds

urlpatterns = [
    # What the QR label on a signboard encodes: short, no trailing slash to go wrong.
    path("s/<str:token>", views.scan, name="scan"),
    path("patrols/<int:pk>/", views.patrol_detail, name="patrol_detail"),
    path("sites/", views.site_list, name="site_list"),
    path("sites/coverage/", views_coverage.coverage, name="site_coverage"),
    path("sites/map/", views_coverage.site_map, name="site_map"),
    path("sites/map.geojson", views_coverage.site_geojson, name="site_geojson"),
    path("map/villages.geojson", views_coverage.village_geojson, name="village_geojson"),
    path("sites/labels.pdf", views_labels.labels_pdf, name="site_labels"),
    path("sites/<str:code>/", views.site_detail, name="site_detail"),
    path("sites/<str:code>/do/<str:action>/", views.site_action, name="site_action"),
    # Campaigns, rounds and village assessments (views_rounds.py).
    path("campaigns/", views_rounds.campaign_list, name="campaign_list"),
    path("campaigns/<int:pk>/", views_rounds.campaign_detail, name="campaign_detail"),
    path("rounds/<int:pk>/", views_rounds.round_detail, name="round_detail"),
    path("rounds/<int:pk>/do/<str:action>/", views_rounds.round_action, name="round_action"),
    path("rounds/<int:pk>/assess/", views_rounds.assessment_start, name="assessment_start"),
    path("assessments/<int:pk>/", views_rounds.assessment_detail, name="assessment_detail"),
    path(
        "assessments/<int:pk>/do/<str:action>/",
        views_rounds.assessment_action,
        name="assessment_action",
    ),
    path(
        "assessments/<int:pk>/items/<int:item>/",
        views_rounds.deduction_save,
        name="deduction_save",
    ),
    path("deductions/<int:pk>/ticket/", views_rounds.deduction_ticket, name="deduction_ticket"),
    # Grades, rankings and their documents (views_grades.py).
    path("grades/", views_grades.grades_home, name="grades_home"),
    path("grades/campaigns/<int:pk>/", views_grades.campaign_grades, name="campaign_grades"),
    path("grades/rounds/<int:pk>/", views_grades.round_grades, name="round_grades"),
    path("grades/rounds/<int:pk>.pdf", views_grades.round_grades_pdf, name="round_grades_pdf"),
    path("grades/rounds/<int:pk>.xlsx", views_grades.round_grades_xlsx, name="round_grades_xlsx"),
    path("grades/villages/<str:code>/", views_grades.village_grades, name="village_grades"),
]
