from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .models import EmailStatus, Notification
from .tasks import deliver_email


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "recipient",
        "kind",
        "message",
        "created_at",
        "read_at",
        "email_status",
        "email_attempts",
    )
    list_filter = ("kind", "email_status")
    search_fields = ("message", "recipient__username", "recipient__display_name")
    list_select_related = ("recipient",)
    raw_id_fields = ("recipient", "session")
    actions = ["resend_email"]

    @admin.action(description="Send the e-mail again (for failed or uncertain deliveries)")
    def resend_email(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        rows = list(queryset.filter(email_status__in=[EmailStatus.FAILED, EmailStatus.UNCERTAIN]))
        for n in rows:
            Notification.objects.filter(pk=n.pk).update(
                email_status=EmailStatus.PENDING,
                email_next_attempt_at=timezone.now(),
                email_attempts=0,
            )
            deliver_email.enqueue(n.pk)
        self.message_user(request, f"{len(rows)} e-mail(s) queued again.", messages.SUCCESS)
