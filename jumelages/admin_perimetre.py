"""Admin base classes for the DOS workspace (issue 7): every list, change page, action and export of
an agent is limited to his service's perimeter (jumelages.perimetres); a superuser sees all."""

from django.contrib import admin
from django.shortcuts import get_object_or_404

from . import perimetres


class PerimetreAdmin(admin.ModelAdmin):
    """get_queryset is filtered by `filtre_perimetre(user, queryset)`: the changelist, the change and delete
    pages, the actions (which receive the changelist's queryset) and the custom views (through
    objet_ou_404) all see only the perimeter's objects."""

    filtre_perimetre = None  # staticmethod(perimetres.xxx)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.filtre_perimetre is None:
            return queryset
        return self.filtre_perimetre(request.user, queryset)

    def objet_ou_404(self, request, pk):
        return get_object_or_404(self.get_queryset(request), pk=pk)


class ReferenceAdmin(PerimetreAdmin):
    """Reference data (loaded by the commands): read only for agents, changed by superusers."""

    def has_add_permission(self, request, *args):
        return perimetres.voit_tout(request.user)

    def has_change_permission(self, request, obj=None):
        return perimetres.voit_tout(request.user)

    def has_delete_permission(self, request, obj=None):
        return perimetres.voit_tout(request.user)


class SuperutilisateurAdmin(admin.ModelAdmin):
    """Visible to superusers only (accounts)."""

    def has_module_permission(self, request):
        return perimetres.voit_tout(request.user)

    def has_view_permission(self, request, obj=None):
        return perimetres.voit_tout(request.user)

    def has_add_permission(self, request, *args):
        return perimetres.voit_tout(request.user)

    def has_change_permission(self, request, obj=None):
        return perimetres.voit_tout(request.user)

    def has_delete_permission(self, request, obj=None):
        return perimetres.voit_tout(request.user)


def perimetre_de(fonction):
    return staticmethod(fonction)


__all__ = ["PerimetreAdmin", "ReferenceAdmin", "SuperutilisateurAdmin", "perimetres", "perimetre_de"]
