from django.urls import path

from . import feeds, views

urlpatterns = [
    path("", views.home, name="home"),
    path("widgets/coaching/", views.widget_view, name="coaching_widget"),
    path("widgets/coaching/<slug:key>/", views.section_view, name="coaching_section"),
    path("sessions/new/", views.session_new, name="session_new"),
    path("sessions/similar/", views.similar_warning, name="session_similar"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/edit/", views.session_edit, name="session_edit"),
    path("sessions/<int:pk>/delete/", views.session_delete, name="session_delete"),
    path("sessions/<int:pk>/schedule/", views.session_schedule, name="session_schedule"),
    path("sessions/<int:pk>/decline/", views.session_decline, name="session_decline"),
    path("sessions/<int:pk>/reschedule/", views.session_reschedule, name="session_reschedule"),
    path("sessions/<int:pk>/cancel/", views.session_cancel, name="session_cancel"),
    path("sessions/<int:pk>/complete/", views.session_complete, name="session_complete"),
    path("sessions/<int:pk>/acknowledge/", views.session_acknowledge, name="session_acknowledge"),
    path("calendar/<int:user_id>/<str:token>.ics", feeds.calendar_feed, name="calendar_feed"),
]
