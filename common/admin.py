"""What the admin pages of JUMO share: the read-only rows, and the bases that limit every list,
change page, action and export of a DOS agent to his service's perimeter (common.perimetre);
a superuser sees all."""

from django.contrib import admin
from django.shortcuts import get_object_or_404

from .perimetre import sees_everything


class ReadOnlyAdminMixin:
    """Rows written by the application only (workflow, refresh, outbox, journals): the admin shows
    them, and never adds, changes or deletes one. For model admins and inlines alike."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PerimeterAdmin(admin.ModelAdmin):
    """get_queryset is filtered by `perimeter_filter(user, queryset)`: the changelist, the change and delete
    pages, the actions (which receive the changelist's queryset) and the custom views (through
    object_or_404) all see only the perimeter's objects."""

    perimeter_filter = None  # staticmethod(perimetres.xxx)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.perimeter_filter is None:
            return queryset
        return self.perimeter_filter(request.user, queryset)

    def object_or_404(self, request, pk):
        return get_object_or_404(self.get_queryset(request), pk=pk)


class SuperuserWritesMixin:
    """Only a superuser adds, changes or deletes."""

    def has_add_permission(self, request, *args):
        return sees_everything(request.user)

    def has_change_permission(self, request, obj=None):
        return sees_everything(request.user)

    def has_delete_permission(self, request, obj=None):
        return sees_everything(request.user)


class ReferenceAdmin(SuperuserWritesMixin, PerimeterAdmin):
    """Reference data (loaded by the commands): read only for agents, changed by superusers."""


class SuperuserAdmin(SuperuserWritesMixin, admin.ModelAdmin):
    """Visible to superusers only (accounts)."""

    def has_module_permission(self, request):
        return sees_everything(request.user)

    def has_view_permission(self, request, obj=None):
        return sees_everything(request.user)
