from . import views_reports, views_rules

urlpatterns = [*views_rules.urlpatterns, *views_reports.urlpatterns]
