"""The security journal and the admin's own journal (LogEntry: every change made in the admin),
read only, for the superusers."""

from django.contrib import admin
from django.contrib.admin.models import LogEntry

from common.admin import ReadOnlyAdminMixin

from .models import Connexion


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


@admin.register(Connexion)
class ConnexionAdmin(ReadOnlyAdmin):
    list_display = ["date", "type", "methode", "identifiant", "utilisateur", "adresse_ip", "detail"]
    list_filter = ["type", "methode", "date"]
    search_fields = ["identifiant", "adresse_ip", "utilisateur__email"]
    date_hierarchy = "date"
    list_select_related = ["utilisateur"]


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    list_display = ["action_time", "user", "content_type", "object_repr", "action_flag", "change_message"]
    list_filter = ["action_flag", "content_type", "action_time"]
    search_fields = ["object_repr", "change_message", "user__email"]
    date_hierarchy = "action_time"
    list_select_related = ["user", "content_type"]
