"""Water sites: the QR scan, patrols, the register, coverage, maps and QR labels."""

from django.urls import path

from inspections.sites import views, views_coverage, views_labels

# What the QR label on a signboard encodes: short, no trailing slash to go wrong. The phones'
# most-opened page: config/urls.py matches it before every other pattern (behind ~200 of them,
# resolving it took 0.11 ms a scan; 0.03 ms first).
scan_urlpatterns = [path("s/<str:token>", views.scan, name="scan")]

urlpatterns = [
    path("patrols/<int:pk>/", views.patrol_detail, name="patrol_detail"),
    path("sites/", views.site_list, name="site_list"),
    path("sites/coverage/", views_coverage.coverage, name="site_coverage"),
    path("sites/map/", views_coverage.site_map, name="site_map"),
    path("sites/map.geojson", views_coverage.site_geojson, name="site_geojson"),
    path("map/villages.geojson", views_coverage.village_geojson, name="village_geojson"),
    path("sites/labels.pdf", views_labels.labels_pdf, name="site_labels"),
    path("sites/<str:code>/", views.site_detail, name="site_detail"),
    path("sites/<str:code>/do/<str:action>/", views.site_action, name="site_action"),
]
