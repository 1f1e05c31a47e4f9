from django.contrib import admin

from .models import BMP, Campagne, ImportRun


@admin.register(Campagne)
class CampagneAdmin(admin.ModelAdmin):
    list_display = [
        "annee",
        "phase_actuelle",
        "date_ouverture",
        "date_cloture",
        "date_fin_validation",
        "date_debut_consultation",
        "date_fin_consultation",
    ]

    @admin.display(description="phase actuelle")
    def phase_actuelle(self, obj):
        return obj.phase.label


@admin.register(BMP)
class BMPAdmin(admin.ModelAdmin):
    list_display = ["identifiant", "etablissement", "discipline", "heures", "actif", "campagne", "modifie_le"]
    list_filter = ["campagne", "actif", "discipline", "etablissement__departement", "etablissement__type"]
    search_fields = ["identifiant", "etablissement__uai", "etablissement__nom"]
    list_select_related = ["etablissement", "discipline", "campagne"]
    raw_id_fields = ["etablissement", "remplace_par"]
    readonly_fields = ["cree_le", "modifie_le", "retire_le"]


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = [
        "debut",
        "campagne",
        "fichier",
        "statut",
        "dry_run",
        "lance_par",
        "ajoutes",
        "modifies",
        "retires",
        "restaures",
        "inchanges",
        "duree",
    ]
    list_filter = ["statut", "campagne", "dry_run"]
    search_fields = ["fichier", "sha256", "lance_par"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
