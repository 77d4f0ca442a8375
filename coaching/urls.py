from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("widgets/coaching/", views.widget_view, name="coaching_widget"),
    path("widgets/coaching/<slug:key>/", views.section_view, name="coaching_section"),
    path("sessions/new/", views.session_new, name="session_new"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/edit/", views.session_edit, name="session_edit"),
    path("sessions/<int:pk>/delete/", views.session_delete, name="session_delete"),
    path("sessions/<int:pk>/schedule/", views.session_schedule, name="session_schedule"),
    path("sessions/<int:pk>/decline/", views.session_decline, name="session_decline"),
]
