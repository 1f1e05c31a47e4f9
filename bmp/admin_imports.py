"""The import runs of the nightly refresh in the admin."""

from django.contrib import admin

from .models import ImportRun


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
