from django.contrib import admin

from jumo.admin_base import SansEcritureMixin

from .models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(SansEcritureMixin, admin.ModelAdmin):
    list_display = ["nom", "vu_le"]
