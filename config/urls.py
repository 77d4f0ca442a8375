from django.contrib import admin
from django.urls import include, path

from config.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("directory.urls")),
    path("", include("analytics.urls")),
    path("", include("notifications.urls")),
    path("", include("qa.urls")),
    path("", include("coaching.urls")),
]

handler404 = "config.errors_views.page_not_found"
handler500 = "config.errors_views.server_error"
handler400 = "config.errors_views.bad_request"
handler403 = "config.errors_views.permission_denied"
