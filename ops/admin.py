from django.contrib import admin

from common.admin import ReadOnlyAdminMixin

from .models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["nom", "vu_le"]
