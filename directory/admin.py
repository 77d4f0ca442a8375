from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import (
    Case,
    CaseParticipant,
    CoachingArea,
    Evaluation,
    User,
    UserGroup,
    UserGroupMembership,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "email", "is_active", "time_zone")
    search_fields = ("username", "display_name", "email", "first_name", "last_name")
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        ("Profile", {"fields": ("display_name", "time_zone", "email_notifications")}),
    )


class MembershipInline(admin.TabularInline):
    model = UserGroupMembership
    autocomplete_fields = ("user",)
    extra = 1


@admin.register(UserGroup)
class UserGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    inlines = [MembershipInline]


@admin.register(CoachingArea)
class CoachingAreaAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name",)


class ParticipantInline(admin.TabularInline):
    model = CaseParticipant
    autocomplete_fields = ("user",)
    extra = 1


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("number", "subject", "channel", "opened_at")
    search_fields = ("number", "subject")
    date_hierarchy = "opened_at"
    inlines = [ParticipantInline]


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = ("case", "agent", "coaching_area", "score", "evaluated_at")
    list_filter = ("coaching_area",)
    search_fields = ("case__number", "agent__username", "agent__display_name")
    autocomplete_fields = ("case", "agent", "evaluator")
    list_select_related = ("case", "agent", "coaching_area")
