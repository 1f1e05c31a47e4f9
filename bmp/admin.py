from django.contrib import admin

from .models import BMP, Campagne


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


# The import runs and the refresh upload (issue 7) live in their own module.
from .admin_imports import ImportRunAdmin  # noqa: E402, F401
