"""Campaigns and BMPs in the admin (issue 7). BMPs are written by the nightly refresh only: read only
here, within the agent's perimeter, with their state and their history."""

from django.contrib import admin, messages

from .campagnes import CampagneError, create_campaign
from .models import Campagne


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
    actions = ["preparer_campagne_suivante"]

    @admin.display(description="phase actuelle")
    def phase_actuelle(self, obj):
        return obj.phase.label

    def get_changeform_initial_data(self, request):
        """A new campaign: the year after the latest one, with the default calendar of that year."""
        derniere = Campagne.objects.order_by("-annee").values_list("annee", flat=True).first()
        annee = (derniere + 1) if derniere else None
        if annee is None:
            return super().get_changeform_initial_data(request)
        return {"annee": annee, **Campagne.default_calendar(annee), **super().get_changeform_initial_data(request)}

    @admin.action(description="Préparer la campagne de l'année suivante", permissions=["add"])
    def preparer_campagne_suivante(self, request, queryset):
        for campagne in queryset:
            try:
                suivante, creee = create_campaign(campagne.annee + 1)
            except CampagneError as error:
                self.message_user(request, str(error), messages.ERROR)
                continue
            if creee:
                self.message_user(
                    request,
                    f"La {suivante} est créée avec le calendrier habituel (ouverture le "
                    f"{suivante.date_ouverture:%d/%m/%Y}) : vérifiez ses dates.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(request, f"La {suivante} existe déjà : rien n'a été modifié.", messages.WARNING)


# The import runs and the refresh upload (issue 7) live in their own module.
from .admin_imports import ImportRunAdmin  # noqa: E402, F401
