from django.urls import path

from . import profile, views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("search/agents/", views.search_agents, name="search_agents"),
    path("search/cases/", views.search_case_list, name="search_cases"),
    path("lookup/parties/", views.lookup_parties, name="lookup_parties"),
    path("lookup/cases/", views.lookup_cases, name="lookup_cases"),
    path("profile/", profile.profile, name="profile"),
]
