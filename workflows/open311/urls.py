"""/open311/v2/: GeoReport v2's resources, each as .json or .xml (workflows.open311.views)."""

from django.urls import re_path

from workflows.open311 import views

FORMAT = r"\.(?P<fmt>json|xml)$"
ID = r"[^/]+"

urlpatterns = [
    re_path(rf"^services{FORMAT}", views.service_list, name="open311_services"),
    re_path(rf"^services/(?P<code>{ID}){FORMAT}", views.service_definition, name="open311_service"),
    re_path(rf"^requests{FORMAT}", views.service_requests, name="open311_requests"),
    re_path(rf"^requests/(?P<number>{ID}){FORMAT}", views.request_detail, name="open311_request"),
    re_path(rf"^tokens/(?P<token>{ID}){FORMAT}", views.token_detail, name="open311_token"),
    re_path(r"^(?P<path>.*)$", views.not_found, name="open311_unknown"),
]
