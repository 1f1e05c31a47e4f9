"""Reference data in the admin: read only for the DOS agents (loaded by the import commands),
changed by superusers; an agent sees the schools of his perimeter only (issue 7)."""

from django.contrib import admin
from django.db.models import Count

from common import perimetre
from common.admin import ReferenceAdmin, SuperuserAdmin

from .models import Commune, Departement, Discipline, Etablissement, Profil, Service, ZoneRemplacement


def _services(user, queryset):
    if perimetre.sees_everything(user):
        return queryset
    service = perimetre.service_of(user)
    return queryset.filter(pk=service.pk) if service is not None and user.is_active else queryset.none()


@admin.register(Departement)
class DepartementAdmin(ReferenceAdmin):
    list_display = ["code", "nom"]
    search_fields = ["code", "nom"]


@admin.register(Commune)
class CommuneAdmin(ReferenceAdmin):
    list_display = ["code_insee", "nom", "departement", "code_postal", "latitude", "longitude"]
    list_filter = ["departement"]
    search_fields = ["code_insee", "nom", "codes_postaux"]
    list_select_related = ["departement"]


@admin.register(ZoneRemplacement)
class ZoneRemplacementAdmin(ReferenceAdmin):
    list_display = ["code", "libelle", "nombre_communes"]
    search_fields = ["code", "libelle", "communes__nom"]
    filter_horizontal = ["communes"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_nombre_communes=Count("communes"))

    @admin.display(description="communes", ordering="_nombre_communes")
    def nombre_communes(self, obj):
        return obj._nombre_communes


@admin.register(Etablissement)
class EtablissementAdmin(ReferenceAdmin):
    perimeter_filter = staticmethod(perimetre.by_school())
    list_display = ["uai", "nom", "type", "commune", "departement", "position", "ouvert", "adresse_mail"]
    list_filter = ["type", "departement", "position", "ouvert", "public"]
    search_fields = ["uai", "nom", "commune__nom"]
    list_select_related = ["commune", "departement"]
    autocomplete_fields = ["commune"]

    @admin.display(description="adresse mail")
    def adresse_mail(self, obj):
        return obj.adresse_mail


@admin.register(Service)
class ServiceAdmin(ReferenceAdmin):
    perimeter_filter = staticmethod(_services)
    list_display = ["uai", "nom", "perimetre", "departement"]


@admin.register(Discipline)
class DisciplineAdmin(ReferenceAdmin):
    list_display = ["code", "libelle", "heures_temps_plein"]
    search_fields = ["code", "libelle"]


@admin.register(Profil)
class ProfilAdmin(SuperuserAdmin):
    list_display = ["utilisateur", "service"]
    list_select_related = ["utilisateur", "service"]
    search_fields = ["utilisateur__username", "utilisateur__email", "etablissements__uai"]
    autocomplete_fields = ["etablissements"]
    raw_id_fields = ["utilisateur"]
