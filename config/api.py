"""The REST API v1 (django-ninja): routers are added by each domain's api module."""

from ninja import NinjaAPI

api = NinjaAPI(title="Coaching suggestions API", version="1", urls_namespace="api-v1")
