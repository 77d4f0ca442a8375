from django.urls import path

from . import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/bell/", views.bell, name="notification_bell"),
    path("notifications/read-all/", views.mark_all_read, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", views.mark_read, name="notification_read"),
    path("notifications/<int:pk>/open/", views.open_notification, name="notification_open"),
]
