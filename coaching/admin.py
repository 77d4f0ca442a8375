from django.contrib import admin

from .models import CoachingSession, SessionEvent


class EventInline(admin.TabularInline):
    model = SessionEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "actor_name", "action", "changes")
    fields = readonly_fields


@admin.register(CoachingSession)
class CoachingSessionAdmin(admin.ModelAdmin):
    """Read-only: every change goes through the services (rules, audit, notifications)."""

    list_display = (
        "title",
        "state",
        "cancel_reason",
        "suggested_by_name",
        "coach_user",
        "coach_group",
        "expires_at",
        "created_at",
    )
    list_filter = ("state", "cancel_reason", "origin", "coaching_area")
    search_fields = ("title", "suggested_by_name", "coach_user__display_name", "coach_group__name")
    list_select_related = ("coach_user", "coach_group")
    inlines = [EventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
