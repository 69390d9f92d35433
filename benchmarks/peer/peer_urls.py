"""URLconf of the peer's minimal Django project (helpdesk builds ticket links with reverse())."""

from django.urls import include, path

urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
