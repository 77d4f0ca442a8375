from django.urls import path

from . import views

urlpatterns = [
    path("agents/<int:pk>/", views.agent_analytics, name="agent_analytics"),
    path("cases/<int:pk>/", views.case_analytics, name="case_analytics"),
]
